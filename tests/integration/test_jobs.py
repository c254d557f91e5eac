"""The durable backlog: jobs written with the booking, run once, retried, dead, retried by hand."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.jobs.handoff import arq_id, promote_due, repair
from holdfast.jobs.models import Job
from holdfast.jobs.registry import default_registry
from holdfast.jobs.runner import run_job
from holdfast.jobs.service import schedule
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

START = "2027-03-03T11:00:00Z"  # Wednesday; the test clock starts on Monday 06:00Z


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url)


async def book(
    client: httpx.AsyncClient, practice: Practice, me: dict[str, str], start: str = START
) -> dict[str, Any]:
    body = {"service_id": practice.session, "provider_id": practice.london, "start": start}
    response = await client.post("/api/bookings", json=body, headers=me)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def jobs(
    client: httpx.AsyncClient, practice: Practice, state: str | None = None
) -> list[dict[str, Any]]:
    params = {"state": state} if state else {}
    response = await client.get("/api/admin/jobs", params=params, headers=practice.admin)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_a_booking_writes_its_confirmation_and_reminder_jobs(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    made = await book(client, practice, await register(client))
    found = {j["kind"]: j for j in await jobs(client, practice)}
    assert set(found) == {"notify.confirmation", "notify.reminder"}
    assert found["notify.reminder"]["run_at"] == "2027-03-02T11:00:00Z"  # 24 h before
    assert found["notify.reminder"]["state"] == "scheduled"
    assert found["notify.confirmation"]["subject"] == f"booking:{made['id']}"

    await client.post(
        f"/api/bookings/{made['id']}/cancel", json={"reason": "moving"}, headers=practice.admin
    )
    after = {j["kind"]: j for j in await jobs(client, practice)}
    assert after["notify.reminder"]["state"] == "cancelled"
    assert after["notify.cancellation"]["state"] in ("scheduled", "promoted")


async def test_scheduling_the_same_work_twice_is_one_job(ctx: Context) -> None:
    first = await schedule(None, kind="k", subject="s", run_at=ctx.now(), now=ctx.now())
    second = await schedule(
        None, kind="k", subject="s", run_at=ctx.now(), now=ctx.now() + timedelta(seconds=5)
    )
    assert first.id == second.id and second.created_at == first.created_at
    assert await Job.find_all().count() == 1


async def test_confirmation_email_and_sms_are_sent_once(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    sms: SmsServer,
) -> None:
    me = await register(client, timezone="America/New_York", phone="+15551234567")
    made = await book(client, practice, me)
    assert await run_all_due(ctx, settings) == ["succeeded"]
    job = next(j for j in await jobs(client, practice) if j["kind"] == "notify.confirmation")
    assert (
        await run_job(ctx, job["id"], default_registry(settings)) == "skipped"
    )  # a re-run does nothing

    [mail] = smtp.messages
    assert str(mail["Subject"]).strip().startswith("Confirmed: Session on Wednesday 3 March 2027")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "06:00 EST (America/New_York)" in text  # the client's own zone, named
    assert "password" not in text.lower() and "token" not in text.lower()
    invite = next(
        part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"
    )
    assert "DTSTART:20270303T110000Z" in invite.get_content()
    assert [m["To"] for m in sms.received] == ["+15551234567"]
    assert "Session" in sms.received[0]["Body"]

    messages = (
        await client.get(
            "/api/admin/messages", params={"booking_id": made["id"]}, headers=practice.admin
        )
    ).json()
    assert sorted((m["channel"], m["status"]) for m in messages) == [
        ("email", "sent"),
        ("sms", "sent"),
    ]
    assert {m["provider_message_id"] for m in messages} == {"2.0.0 Ok: queued as M1", "SM0001"}


async def test_cancellation_reaches_the_client_and_the_practice(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, smtp: SmtpSink
) -> None:
    me = await register(client, email="cli@example.com")
    made = await book(client, practice, me)
    await client.post(f"/api/bookings/{made['id']}/cancel", json={"reason": "ill"}, headers=me)
    # The confirmation had not gone out yet: it is cancelled with the booking, not sent late.
    assert await run_all_due(ctx, settings) == ["succeeded"]
    states = {j["kind"]: j["state"] for j in await jobs(client, practice)}
    assert states == {
        "notify.confirmation": "cancelled",
        "notify.reminder": "cancelled",
        "notify.cancellation": "succeeded",
    }
    cancellations = [m for m in smtp.messages if str(m["Subject"]).strip().startswith("Cancelled")]
    assert sorted(m["To"] for m in cancellations) == ["admin@example.com", "cli@example.com"]
    assert not [m for m in smtp.messages if str(m["Subject"]).strip().startswith("Reminder")]


async def test_a_refusing_server_is_retried_with_backoff_until_it_accepts(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    smtp.refuse = 2
    await book(client, practice, await register(client))
    delays = []
    for _ in range(2):
        assert await run_all_due(ctx, settings) == ["retry_wait"]
        [job] = await Job.find(Job.state == "retry_wait").to_list()
        delays.append(job.run_at.replace(tzinfo=clock.now.tzinfo) - clock.now)
        assert await run_all_due(ctx, settings) == []  # not due yet
        clock.now = job.run_at.replace(tzinfo=clock.now.tzinfo)
    assert (
        timedelta(seconds=1)
        <= delays[0]
        <= timedelta(seconds=2)
        < delays[1]
        <= timedelta(seconds=4)
    )
    assert await run_all_due(ctx, settings) == ["succeeded"]
    assert len(smtp.messages) == 1
    [job] = await Job.find(Job.kind == "notify.confirmation").to_list()
    assert (job.state, job.attempts) == ("succeeded", 3)


async def test_a_dead_job_is_listed_and_retried_by_the_admin(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    smtp.refuse = 10**6
    made = await book(client, practice, await register(client, name="Dee Dunn"))
    outcomes: list[str] = []
    while "dead" not in outcomes:
        outcomes += await run_all_due(ctx, settings)
        clock.advance(hours=2)
        assert len(outcomes) < 20
    assert outcomes.count("retry_wait") == 7  # eight attempts for a notification
    [dead] = await jobs(client, practice, "dead")
    assert dead["kind"] == "notify.confirmation" and "451" in dead["last_error"]
    # The console names what it was about and when it died.
    assert (dead["booking_id"], dead["client"]["name"], dead["attempts"]) == (
        made["id"], "Dee Dunn", 8
    )  # fmt: skip
    assert dead["client"]["email"].endswith("@example.com")
    assert dead["died_at"] == dead["finished_at"] and dead["died_at"] is not None
    failed = (
        await client.get("/api/admin/messages", params={"status": "failed"}, headers=practice.admin)
    ).json()
    assert failed[0]["attempts"] == 8

    smtp.refuse = 0
    retried = await client.post(f"/api/admin/jobs/{dead['id']}/retry", headers=practice.admin)
    assert retried.status_code == 200 and retried.json()["state"] == "scheduled"
    assert (retried.json()["died_at"], retried.json()["client"]["name"]) == (None, "Dee Dunn")
    again = await client.post(f"/api/admin/jobs/{dead['id']}/retry", headers=practice.admin)
    assert (again.status_code, again.json()["error"]) == (409, "job_not_retryable")
    assert await run_all_due(ctx, settings) == ["succeeded"]
    assert len(smtp.messages) == 1
    missing = await client.post("/api/admin/jobs/nope/retry", headers=practice.admin)
    assert missing.status_code == 404
    bad_state = await client.get(
        "/api/admin/jobs", params={"state": "exploded"}, headers=practice.admin
    )
    assert bad_state.status_code == 422


async def test_without_providers_messages_land_in_the_outbox(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, smtp: SmtpSink
) -> None:
    unconfigured = settings.model_copy(update={"smtp_url": None, "sms_url": None})
    object.__setattr__(ctx, "settings", unconfigured)
    await book(client, practice, await register(client, phone="+447700900123"))
    assert await run_all_due(ctx, unconfigured) == ["succeeded"]
    outbox = (
        await client.get("/api/admin/messages", params={"status": "outbox"}, headers=practice.admin)
    ).json()
    assert sorted(m["channel"] for m in outbox) == ["email", "sms"]
    assert outbox[0]["body"] and smtp.messages == []


async def test_promotion_is_windowed_idempotent_and_repaired_after_a_flush(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    now = clock.now
    for minutes in (1, 5, 9, 11, 60 * 24 * 30):
        await schedule(
            None,
            kind="notify.reminder",
            subject=f"s{minutes}",
            run_at=now + timedelta(minutes=minutes),
            now=now,
        )
    window = timedelta(minutes=10)
    queue = ctx.queue_redis
    await queue.flushall()
    # Two promoters at once: each due job is queued once and marked promoted once.
    marked = await asyncio.gather(promote_due(queue, now, window), promote_due(queue, now, window))
    assert sum(marked) == 3
    assert await queue.zcard("arq:queue") == 3
    promoted = await Job.find(Job.state == "promoted").to_list()
    assert sorted(j.subject for j in promoted) == ["s1", "s5", "s9"]
    assert (
        await queue.zscore("arq:queue", arq_id(promoted[0]))
        == promoted[0].run_at.timestamp() * 1000
    )

    await queue.flushall()  # the queue Redis restarted empty
    assert await repair(queue, now) == 3
    assert await promote_due(queue, now, window) == 3
    assert await queue.zcard("arq:queue") == 3
    assert await repair(queue, now) == 0


async def test_readiness_and_metrics_show_the_backlog(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    ready = (await client.get("/health/ready")).json()
    assert ready["promoter"]["status"] == "absent"  # no promoter has ever reported
    await book(client, practice, await register(client))
    await asyncio.gather(*ctx.background)  # let the after-commit push finish first
    await Job.get_pymongo_collection().update_many({}, {"$set": {"state": "scheduled"}})
    clock.advance(seconds=30)
    ready = (await client.get("/health/ready")).json()
    assert ready["promoter"]["oldest_due_seconds"] == 30.0
    metrics = (await client.get("/metrics")).text
    assert 'holdfast_jobs{measure="backlog"} 2.0' in metrics
    assert 'holdfast_jobs{measure="due_not_promoted"} 1.0' in metrics
    assert 'holdfast_jobs{measure="oldest_due_age_seconds"} 30.0' in metrics

    from promoter.loop import PromoterState, heartbeat

    await heartbeat(ctx, PromoterState(name="promoter:test", promoted_total=7), clock.now)
    ready = (await client.get("/health/ready")).json()
    assert ready["promoter"]["status"] == "ok" and ready["promoter"]["queue_redis"] == "ok"
    assert (
        'holdfast_jobs_promoted_total{promoter="promoter:test"} 7.0'
        in (await client.get("/metrics")).text
    )
    clock.advance(minutes=5)
    assert (await client.get("/health/ready")).json()["promoter"]["status"] == "stale"
