"""`GET /api/admin/stats`: figures over a window, one section per domain.

Everything is read from what the platform already keeps (jobs, messages, payments, the
waitlist's openings), except booking attempts and request latency, which the API counts per
minute (holdfast.monitoring.traffic) because nothing else records a refused request.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.errors import Invalid
from holdfast.integrations.status import failing_integrations
from holdfast.jobs.status import backlog_counts, died, lags, promoter_status
from holdfast.monitoring.alerts import IncidentOut, incidents
from holdfast.monitoring.funnel import Funnel, funnel
from holdfast.monitoring.sla import Objective, objectives
from holdfast.monitoring.traffic import Attempts, Point, Traffic, traffic_figures
from holdfast.notifications.stats import Deliveries, deliveries
from holdfast.payments.stats import PaymentStats, payment_stats
from holdfast.schemas import UtcInstant
from holdfast.waitlist.stats import Spread, WaitlistStats, spread, waitlist_stats
from pydantic import BaseModel

DEFAULT_DAYS = 30
LONGEST = timedelta(days=366)


class Failures(BaseModel):
    """What went wrong in the window, by cause."""

    slot_taken: int  # booking attempts refused because someone else had the time
    invalid: int  # booking attempts refused as invalid (400/422)
    other_refusals: int  # booking attempts refused otherwise (not logged in, rate limited, …)
    server_errors: int  # 5xx answers, any route
    payment_expired: int  # payments started in the window whose hold lapsed unpaid
    dead_jobs: int  # jobs that gave up in the window
    failed_deliveries: int  # email/SMS tries refused or unanswered
    integrations_failing: int  # integrations failing now (see /api/admin/integrations)


class Queue(BaseModel):
    backlog: int  # jobs waiting for the promoter (scheduled or retrying)
    due_not_promoted: int
    dead: int  # dead letters now (retry them at /api/admin/jobs?state=dead)
    oldest_due_age_seconds: float
    lag: Spread  # from due to started, jobs due in the window
    promoter: str  # ok · stale · absent


class Stats(BaseModel):
    start: UtcInstant
    end: UtcInstant
    step_seconds: int  # of `series`
    bookings: Attempts
    failures: Failures
    sla: list[Objective]
    queue: Queue
    deliveries: Deliveries
    payments: PaymentStats
    waitlist: WaitlistStats
    funnel: Funnel
    alerts: list[IncidentOut]  # open now, or opened in the window
    series: list[Point]


def window(start: date | None, end: date | None, now: datetime) -> tuple[datetime, datetime]:
    """[from, to] as whole UTC days, `to` included; the last 30 days by default."""
    last = end or now.date()
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("from must not be after to.", code="invalid_window")
    if last >= date.max:  # the day after it has no datetime
        raise Invalid("to must be before 9999-12-31.", code="invalid_window")
    lo = as_utc(datetime.combine(first, time()))
    hi = as_utc(datetime.combine(last, time())) + timedelta(days=1)
    if hi - lo > LONGEST:
        raise Invalid("The window may span at most 366 days.", code="invalid_window")
    return lo, hi


def step_for(span: timedelta) -> timedelta:
    """A chart's resolution: minutes for a day, quarter hours for a week, hours for two
    months, days beyond (at most ~1,500 points)."""
    if span <= timedelta(days=1):
        return timedelta(minutes=1)
    if span <= timedelta(days=7):
        return timedelta(minutes=15)
    if span <= timedelta(days=62):
        return timedelta(hours=1)
    return timedelta(days=1)


def failures_of(attempts: Attempts) -> tuple[int, int, int]:
    """Booking refusals as (slot taken, invalid, other), from "<status>:<code>" counts."""
    taken = invalid = other = 0
    for key, count in attempts.refused.items():
        status, _, code = key.partition(":")
        if code == "slot_taken":
            taken += count
        elif status in ("400", "422"):
            invalid += count
        elif not status.startswith("5"):
            other += count
    return taken, invalid, other


async def stats(
    ctx: Context, traffic: Traffic | None, start: date | None, end: date | None
) -> Stats:
    now = ctx.now()
    lo, hi = window(start, end, now)
    if traffic is not None:
        await traffic.flush()  # this process's latest counts, so the answer includes them
    step = step_for(hi - lo)
    attempts, series = await traffic_figures(lo, min(hi, now + step), step)
    taken, invalid, other = failures_of(attempts)
    sent = await deliveries(lo, hi)
    paid = await payment_stats(lo, hi)
    backlog = await backlog_counts(now, timedelta(seconds=ctx.settings.promoter_window_seconds))
    failing = await failing_integrations(ctx)
    return Stats(
        start=lo,
        end=hi,
        step_seconds=int(step.total_seconds()),
        bookings=attempts,
        failures=Failures(
            slot_taken=taken,
            invalid=invalid,
            other_refusals=other,
            server_errors=attempts.server_errors,
            payment_expired=paid.by_status.get("expired", 0),
            dead_jobs=await died(lo, hi),
            failed_deliveries=sent.failed_attempts,
            integrations_failing=len(failing),
        ),
        sla=await objectives(lo, hi, now, attempts),
        queue=Queue(
            backlog=int(backlog["backlog"]),
            due_not_promoted=int(backlog["due_not_promoted"]),
            dead=int(backlog["dead"]),
            oldest_due_age_seconds=round(backlog["oldest_due_age_seconds"], 1),
            lag=spread(await lags(lo, hi)),
            promoter=(await promoter_status(now))["status"],
        ),
        deliveries=sent,
        payments=paid,
        waitlist=await waitlist_stats(lo, hi),
        funnel=await funnel(lo, hi),
        alerts=await incidents(lo, hi),
        series=series,
    )
