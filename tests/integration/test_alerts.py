"""Alerts: the durable periodic job opens one incident per rule while it fires and tells every
admin (email) and the webhook once when it opens and once when it is resolved."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from holdfast.context import Context
from holdfast.jobs.models import Heartbeat
from holdfast.jobs.periodic import ensure_next
from holdfast.jobs.registry import default_registry
from holdfast.monitoring.alerts import watch_promoter
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.fakes.alerts import AlertReceiver
from tests.support import Practice, register, run_all_due, with_senders

START = "2027-03-03T11:00:00Z"
WEBHOOK_SECRET = "alert-webhook-secret-0123456789"
ALERT = "[Holdfast] Alert: messages are failing to deliver"
RESOLVED = "[Holdfast] Resolved: messages are failing to deliver"


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    server = AlertReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def settings(
    settings: Settings, smtp: SmtpSink, sms: SmsServer, receiver: AlertReceiver
) -> Settings:
    return with_senders(settings, smtp.url, sms.url).model_copy(
        update={
            "alert_webhook_url": receiver.url + "/alerts",
            "alert_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "alert_emails": "oncall@example.com",
            "alerts_enabled": True,
        }
    )


async def _tick(ctx: Context, settings: Settings, clock: Clock) -> list[str]:
    """One period later: the promoter's step writes the next evaluation, the worker runs it."""
    await ensure_next(default_registry(settings), clock.now, {})
    clock.advance(seconds=settings.alert_interval_seconds)
    return await run_all_due(ctx, settings)


async def test_failing_email_alerts_by_webhook_at_once_by_email_when_smtp_returns_then_resolves(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    receiver: AlertReceiver,
    clock: Clock,
) -> None:
    smtp.refuse = 1_000  # SMTP refuses everything for a while
    me = await register(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=me)).status_code == 201
    await _tick(ctx, settings, clock)  # the confirmation fails; so does the alert's first email

    [opened] = [b for b in receiver.bodies() if b["rule"] == "delivery_failures"]
    assert opened["state"] == "opened" and "failing to deliver" in opened["summary"]
    [(headers, raw)] = [(h, r) for h, r in receiver.received if b'"delivery_failures"' in r]
    expected = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["x-holdfast-signature"] == f"sha256={expected}"
    assert smtp.messages == []
    assert await _incident_state(client, practice) == "open"
    outbox = (await client.get("/api/admin/messages", headers=practice.admin)).json()
    assert {m["to"] for m in outbox if m["subject"] == ALERT} == {
        "admin@example.com",
        "oncall@example.com",
    }

    smtp.refuse = smtp.refused  # SMTP accepts again
    for _ in range(20):
        await _tick(ctx, settings, clock)
        if RESOLVED in smtp.subjects():
            break
    subjects = smtp.subjects()
    # Once per incident and recipient: the alert (sent late, when SMTP came back), then resolved.
    assert subjects.count(ALERT) == 2 and subjects.count(RESOLVED) == 2
    alerts = [m for m in smtp.messages if str(m["Subject"]) in (ALERT, RESOLVED)]
    to_admin = [str(m["Subject"]) for m in alerts if m["To"] == "admin@example.com"]
    assert to_admin == [ALERT, RESOLVED]
    states = [b["state"] for b in receiver.bodies() if b["rule"] == "delivery_failures"]
    assert states == ["opened", "resolved"]
    assert await _incident_state(client, practice) == "resolved"

    # Further evaluations say nothing more about it.
    await _tick(ctx, settings, clock)
    assert smtp.subjects().count(ALERT) == 2
    assert [b["state"] for b in receiver.bodies() if b["rule"] == "delivery_failures"] == states


async def _incident_state(client: httpx.AsyncClient, practice: Practice) -> str:
    answer = await client.get(
        "/api/admin/stats?from=2027-03-01&to=2027-03-01", headers=practice.admin
    )
    [incident] = [a for a in answer.json()["alerts"] if a["rule"] == "delivery_failures"]
    return str(incident["state"])


async def test_with_the_promoter_silent_many_workers_tell_of_it_once(
    ctx: Context, settings: Settings, smtp: SmtpSink, receiver: AlertReceiver, clock: Clock
) -> None:
    """No promoter hands out `alerts.evaluate`: every worker watches its heartbeat, and one of
    them (not each) evaluates per period, so the silence is told once per channel."""
    await Heartbeat(id="promoter-1", kind="promoter", at=clock.now - timedelta(minutes=10)).insert()
    fast = settings.model_copy(update={"alert_interval_seconds": 1})
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(
            watch_promoter(replace(ctx, settings=fast, runs_jobs=default_registry(fast)), stop)
        )
        for _ in range(3)
    ]
    silent = "[Holdfast] Alert: the promoter is silent"
    try:
        for _ in range(200):
            if silent in smtp.subjects():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # a few more periods for the other workers to speak up
    finally:
        stop.set()
        await asyncio.gather(*workers)
    states = [b["state"] for b in receiver.bodies() if b["rule"] == "promoter_silent"]
    assert states == ["opened"]
    assert smtp.subjects().count(silent) == 1  # oncall@example.com, once
