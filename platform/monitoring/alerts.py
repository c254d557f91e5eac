"""Alerts: a durable periodic job (`alerts.evaluate`, every `HOLDFAST_ALERT_INTERVAL_SECONDS`)
evaluates the rules (holdfast.monitoring.rules), keeps one incident per rule while it fires,
and tells people: every admin and `HOLDFAST_ALERT_EMAILS` by email, and
`HOLDFAST_ALERT_WEBHOOK_URL` as JSON (signed with `HOLDFAST_ALERT_WEBHOOK_SECRET` when set), once
when the incident opens and once when it is resolved.

Delivery is part of every evaluation, not a job of its own: each run first delivers what is
still owed (an incident records which notices went by which channel; each email is a tracked
message with a fixed id, so a recipient who got it is never sent it again), then evaluates. So
an alert about failing email reaches the webhook at once and the admins' inboxes on the first
run after SMTP accepts again, followed by the resolved notice once the failures clear.

The job needs the promoter to write it and hand it to a worker. For the one rule that cannot
wait for it, each worker also watches the promoter's heartbeat (`watch_promoter`) and, while the
promoter is quiet, does the promoter's part for this kind: it writes the period's occurrence
(the id the promoter would give it) and runs it here. The job's claim lets one worker of many
run it, so the period is evaluated, and each notice sent, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import httpx
import structlog
from holdfast.accounts.models import User
from holdfast.context import Context
from holdfast.jobs.models import Job
from holdfast.jobs.periodic import SUBJECT, next_occurrence
from holdfast.jobs.registry import JobKind
from holdfast.jobs.runner import run_here
from holdfast.jobs.service import schedule
from holdfast.monitoring.models import Incident
from holdfast.monitoring.rules import Finding, evaluate, promoter_silent
from holdfast.notifications.delivery import DeliveryFailed, send_once
from holdfast.notifications.models import Message
from holdfast.schemas import UtcInstant
from holdfast.settings import Settings
from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError, PyMongoError

log = structlog.get_logger(__name__)
KIND = "alerts.evaluate"
TITLES = {
    "dead_jobs": "jobs are dying",
    "delivery_failures": "messages are failing to deliver",
    "promoter_silent": "the promoter is silent",
    "integration_failing": "an integration is failing",
    "server_errors": "a burst of server errors",
    "sla_breached": "a service objective was missed",
}


async def reconcile(findings: list[Finding], now: datetime) -> None:
    """Open an incident for each rule that fires without one; resolve those that stopped."""
    for finding in findings:
        current = await Incident.find_one({"rule": finding.rule, "state": "open"})
        if finding.firing and current is None:
            incident = Incident(
                id=f"{finding.rule}:{now:%Y%m%dT%H%M%S.%fZ}",
                rule=finding.rule,
                summary=finding.summary,
                last_summary=finding.summary,
                opened_at=now,
            )
            with contextlib.suppress(DuplicateKeyError):  # another evaluator opened it
                await incident.insert()
                log.warning("alert.opened", rule=finding.rule, summary=finding.summary)
        elif current is not None:
            change = (
                {"last_summary": finding.summary}
                if finding.firing
                else {"state": "resolved", "resolved_at": now}
            )
            await Incident.get_pymongo_collection().update_one(
                {"_id": current.id, "state": "open"}, {"$set": change}
            )
            if not finding.firing:
                log.info("alert.resolved", rule=finding.rule)


def _notices(incident: Incident) -> list[str]:
    return ["opened", "resolved"] if incident.state == "resolved" else ["opened"]


async def recipients(ctx: Context) -> list[str]:
    admins = User.get_pymongo_collection().find({"role": "admin"}, {"email": 1})
    found = [str(doc["email"]) async for doc in admins]
    extra = [a.strip() for a in ctx.settings.alert_emails.split(",") if a.strip()]
    return sorted(set(found) | set(extra))


def _email(ctx: Context, incident: Incident, notice: str, to: str, job_id: str) -> Message:
    title = TITLES.get(incident.rule, incident.rule)
    now = ctx.now()
    opened = f"{incident.opened_at:%Y-%m-%d %H:%M:%S} UTC"
    if notice == "opened":
        subject = f"[Holdfast] Alert: {title}"
        body = f"{incident.summary}\n\nSince {opened}.\n"
    else:
        subject = f"[Holdfast] Resolved: {title}"
        until = f"{incident.resolved_at:%Y-%m-%d %H:%M:%S} UTC" if incident.resolved_at else ""
        body = f"Resolved at {until} (it began {opened}).\n\nWhen it fired: {incident.summary}\n"
    body += f"\nMonitoring: {ctx.settings.public_url.rstrip('/')}/admin/monitoring\n"
    address = hashlib.sha256(to.lower().encode()).hexdigest()[:16]
    return Message(
        id=f"alert:{incident.id}:{notice}:{address}",
        job_id=job_id,
        template=f"alert_{notice}",
        channel="email",
        to=to,
        subject=subject,
        body=body,
        created_at=now,
        updated_at=now,
    )


async def _email_all(ctx: Context, incident: Incident, notice: str, claim: str | None) -> bool:
    """True once every recipient has it (sent, or in the outbox without SMTP)."""
    delivered = True
    for to in await recipients(ctx):
        try:
            await send_once(ctx, _email(ctx, incident, notice, to, f"{KIND}:{incident.id}"), claim)
        except DeliveryFailed as exc:
            delivered = False
            log.warning("alert.email_failed", incident=incident.id, error=str(exc)[:200])
    return delivered


def webhook_body(incident: Incident, notice: str, now: datetime) -> bytes:
    return json.dumps(
        {
            "incident": incident.id,
            "rule": incident.rule,
            "title": TITLES.get(incident.rule, incident.rule),
            "state": notice,  # opened · resolved
            "summary": incident.summary,
            "opened_at": incident.opened_at.isoformat().replace("+00:00", "Z"),
            "resolved_at": incident.resolved_at.isoformat().replace("+00:00", "Z")
            if incident.resolved_at
            else None,
            "sent_at": now.isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    ).encode()


async def _post(ctx: Context, incident: Incident, notice: str) -> bool:
    settings = ctx.settings
    if not settings.alert_webhook_url:
        return True  # nobody to tell: this notice is done for that channel
    body = webhook_body(incident, notice, ctx.now())
    headers = {"Content-Type": "application/json"}
    if settings.alert_webhook_secret is not None:
        key = settings.alert_webhook_secret.get_secret_value().encode()
        headers["X-Holdfast-Signature"] = "sha256=" + hmac.new(key, body, "sha256").hexdigest()
    try:
        async with httpx.AsyncClient(timeout=settings.send_timeout_seconds) as http:
            answer = await http.post(settings.alert_webhook_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("alert.webhook_failed", incident=incident.id, error=str(exc)[:200])
        return False
    if not answer.is_success:
        log.warning("alert.webhook_failed", incident=incident.id, status=answer.status_code)
    return answer.is_success


async def deliver(ctx: Context, claim: str | None) -> None:
    """Send every notice still owed, oldest incident first; what fails waits for the next run."""
    owed = Incident.find(
        {
            "$or": [
                {"emailed": {"$ne": "opened"}},
                {"webhooked": {"$ne": "opened"}},
                {"state": "resolved", "emailed": {"$ne": "resolved"}},
                {"state": "resolved", "webhooked": {"$ne": "resolved"}},
            ]
        }
    ).sort("opened_at")
    async for incident in owed:
        for notice in _notices(incident):
            if notice not in incident.webhooked and await _post(ctx, incident, notice):
                await _mark(incident, "webhooked", notice)
            if notice not in incident.emailed and await _email_all(ctx, incident, notice, claim):
                await _mark(incident, "emailed", notice)


async def _mark(incident: Incident, channel: str, notice: str) -> None:
    await Incident.get_pymongo_collection().update_one(
        {"_id": incident.id}, {"$addToSet": {channel: notice}}
    )


async def check(ctx: Context, claim: str | None) -> None:
    """One evaluation: deliver what is owed, evaluate the rules, deliver what that opened."""
    await deliver(ctx, claim)
    await reconcile(await evaluate(ctx), ctx.now())
    await deliver(ctx, claim)


async def evaluate_job(ctx: Context, job: Job) -> None:
    if ctx.settings.alerts_enabled:
        await check(ctx, job.claim_token)


async def watch_promoter(ctx: Context, stop: asyncio.Event) -> None:
    """In each worker: while the promoter is quiet (so `alerts.evaluate` is never written or
    handed out), write the current period's occurrence and run it here, as often as the job
    would run; a period another worker ran already is skipped at its claim."""
    every = timedelta(seconds=ctx.settings.alert_interval_seconds)
    if not ctx.settings.alerts_enabled:
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
            return
        try:
            now = ctx.now()
            if (await promoter_silent(now)).firing:
                period = next_occurrence(every, timedelta(0), now) - every
                job = await schedule(None, kind=KIND, subject=SUBJECT, run_at=period, now=now)
                await run_here(ctx, job.id)
        except (PyMongoError, OSError) as exc:
            log.warning("alert.watch_failed", error=str(exc)[:200])


def kinds(settings: Settings) -> list[JobKind]:
    # A run that fails is simply followed by the next period's: few tries, short backoff. Turned
    # off, the kind stays known (an occurrence already written runs and does nothing) but no
    # new occurrence is written.
    every = timedelta(seconds=settings.alert_interval_seconds)
    return [
        JobKind(
            KIND,
            evaluate_job,
            max_attempts=3,
            timeout=timedelta(seconds=settings.job_timeout_seconds),
            backoff_base=timedelta(seconds=2),
            every=every if settings.alerts_enabled else None,
        )
    ]


class IncidentOut(BaseModel):
    id: str
    rule: str
    title: str
    state: str  # open · resolved
    summary: str  # what the rule said when it opened
    latest: str  # what it says now (or said last)
    opened_at: UtcInstant
    resolved_at: UtcInstant | None


async def incidents(start: datetime, end: datetime, most: int = 50) -> list[IncidentOut]:
    """Those open now and those opened in [start, end), newest first (at most `most`)."""
    found = (
        await Incident.find(
            {"$or": [{"state": "open"}, {"opened_at": {"$gte": start, "$lt": end}}]}
        )
        .sort("-opened_at")
        .limit(most)
        .to_list()
    )
    return [
        IncidentOut(
            id=i.id,
            rule=i.rule,
            title=TITLES.get(i.rule, i.rule),
            state=i.state,
            summary=i.summary,
            latest=i.last_summary,
            opened_at=i.opened_at,
            resolved_at=i.resolved_at,
        )
        for i in found
    ]
