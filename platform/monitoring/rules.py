"""The alert rules: each looks at what the platform already records and says whether it fires
now, with one sentence for the people it wakes. Thresholds are settings (`HOLDFAST_ALERT_*`).

| rule | fires while |
| --- | --- |
| dead_jobs | a job gave up (went dead) within the alert window |
| delivery_failures | at least `alert_delivery_failure_rate` of recent messages are failing |
| promoter_silent | the promoter's last heartbeat is older than 2 minutes |
| integration_failing | an integration (Google, Zoom, …) is `failing` |
| server_errors | the API answered `alert_server_errors` or more 5xx within the window |
| sla_breached | a service objective was missed over the last hour, by 3 items or more |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.integrations.status import failing_integrations
from holdfast.jobs.models import Heartbeat, Job
from holdfast.jobs.status import died
from holdfast.monitoring.models import TrafficMinute
from holdfast.monitoring.sla import objectives
from holdfast.monitoring.traffic import traffic_figures
from holdfast.notifications.models import Message
from holdfast.notifications.stats import failing_now

PROMOTER_SILENT_AFTER = timedelta(minutes=2)
SLA_WINDOW = timedelta(hours=1)
# An objective missed by fewer items than this in the hour (one slow send) wakes nobody.
FEWEST_MISSES = 3


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    firing: bool
    summary: str  # what is wrong (or, when not firing, that it is fine)


async def dead_jobs(now: datetime, window: timedelta) -> Finding:
    recently = await died(now - window, now)
    dead = await Job.get_pymongo_collection().count_documents({"state": "dead"}) if recently else 0
    minutes = int(window.total_seconds() // 60)
    return Finding(
        "dead_jobs",
        recently > 0,
        f"{recently} job(s) gave up in the last {minutes} minutes; {dead} dead job(s) await a "
        "retry in the admin console.",
    )


async def delivery_failures(now: datetime, window: timedelta, threshold: float) -> Finding:
    """Messages failing while their job still retries them, against those sent recently."""
    failing = await failing_now()
    sent = await Message.get_pymongo_collection().count_documents(
        {"created_at": {"$gte": now - window}, "status": "sent"}
    )
    rate = failing / (failing + sent) if failing else 0.0
    return Finding(
        "delivery_failures",
        failing > 0 and rate >= threshold,
        f"{failing} message(s) failing to deliver ({rate:.0%} of recent messages); they are "
        "retried and will go out once the provider accepts them.",
    )


async def promoter_silent(now: datetime) -> Finding:
    beat = await Heartbeat.find({"kind": "promoter"}).sort("-at").first_or_none()
    silent = beat is not None and now - as_utc(beat.at) > PROMOTER_SILENT_AFTER
    since = f"since {as_utc(beat.at):%Y-%m-%d %H:%M:%S} UTC" if beat else "(never seen)"
    return Finding(
        "promoter_silent",
        silent,
        f"The promoter has not been heard from {since}: no job is handed to the workers "
        "(confirmations, reminders, offers wait).",
    )


async def integration_failing(ctx: Context) -> Finding:
    failing = await failing_integrations(ctx)
    names = ", ".join(
        f"{i.integration}{f' ({i.provider_name})' if i.provider_name else ''}: {i.last_error}"
        for i in failing
    )
    return Finding("integration_failing", bool(failing), f"Failing: {names}." if failing else "")


async def server_errors(now: datetime, window: timedelta, threshold: int) -> Finding:
    rows = TrafficMinute.get_pymongo_collection().aggregate(
        [
            {"$match": {"_id": {"$gte": now - window}}},
            {"$group": {"_id": None, "n": {"$sum": "$server_errors"}}},
        ]
    )
    found = [row async for row in await rows]
    count = int(found[0]["n"]) if found else 0
    minutes = int(window.total_seconds() // 60)
    return Finding(
        "server_errors",
        count >= threshold,
        f"The API answered {count} server error(s) (5xx) in the last {minutes} minutes.",
    )


async def sla_breached(now: datetime) -> Finding:
    start = now - SLA_WINDOW
    attempts, _ = await traffic_figures(start, now, SLA_WINDOW)
    missed = [
        o
        for o in await objectives(start, now, now, attempts)
        if o.met is False and o.measured - o.within >= FEWEST_MISSES
    ]
    return Finding(
        "sla_breached",
        bool(missed),
        "Missed over the last hour: "
        + "; ".join(
            f"{o.objective} ({o.compliance:.1%} of {o.measured})"
            for o in missed
            if o.compliance is not None
        ),
    )


async def evaluate(ctx: Context) -> list[Finding]:
    settings, now = ctx.settings, ctx.now()
    window = timedelta(minutes=settings.alert_window_minutes)
    return [
        await dead_jobs(now, window),
        await delivery_failures(now, window, settings.alert_delivery_failure_rate),
        await promoter_silent(now),
        await integration_failing(ctx),
        await server_errors(now, window, settings.alert_server_errors),
        await sla_breached(now),
    ]
