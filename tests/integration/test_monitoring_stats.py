"""The admin's stats, through the API: booking attempts and their outcomes, failures by cause,
SLA compliance, the queue and the time series the dashboard draws."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

DAY = "2027-03-01"  # the test clock's day (a Monday, 06:00 UTC)
START = "2027-03-03T11:00:00Z"  # Wednesday 11:00 London: a slot of `practice.session`


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url)


async def _stats(client: httpx.AsyncClient, practice: Practice) -> dict[str, Any]:
    answer = await client.get(f"/api/admin/stats?from={DAY}&to={DAY}", headers=practice.admin)
    assert answer.status_code == 200, answer.text
    stats: dict[str, Any] = answer.json()
    return stats


def _objective(stats: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [o for o in stats["sla"] if o["name"] == name]
    return found


async def test_attempts_outcomes_and_the_confirmation_objective(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, clock: Clock
) -> None:
    ann, bob = await register(client), await register(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=ann)).status_code == 201
    taken = await client.post("/api/bookings", json=body, headers=bob)
    assert taken.status_code == 409 and taken.json()["error"] == "slot_taken"
    odd = {**body, "start": "2027-03-03T11:07:00Z"}  # not on the hour: no such slot
    assert (await client.post("/api/bookings", json=odd, headers=bob)).status_code == 422

    stats = await _stats(client, practice)
    bookings = stats["bookings"]
    assert (bookings["attempts"], bookings["booked"]) == (3, 1)
    assert bookings["success_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert bookings["p95_ms"] is not None
    assert stats["failures"]["slot_taken"] == 1 and stats["failures"]["invalid"] == 1
    assert stats["failures"]["server_errors"] == 0
    # One point a minute for one day: the attempts are in the clock's minute.
    assert stats["step_seconds"] == 60
    [busy] = [p for p in stats["series"] if p["attempts"]]
    assert busy["at"] == "2027-03-01T06:00:00Z" and (busy["attempts"], busy["booked"]) == (3, 1)
    latency = _objective(stats, "booking_p95_under_300ms")
    assert latency["measured"] == 3 and latency["target"] == 0.95
    # The confirmation is not sent yet and is younger than 60 s: not judged yet.
    assert _objective(stats, "confirmation_within_60s")["measured"] == 0

    clock.advance(seconds=5)
    assert await run_all_due(ctx, settings) == ["succeeded"]
    confirmation = _objective(await _stats(client, practice), "confirmation_within_60s")
    assert (confirmation["measured"], confirmation["within"], confirmation["met"]) == (1, 1, True)

    # A second booking whose confirmation waits 2 minutes (no worker ran): a missed objective.
    later = {**body, "start": "2027-03-03T14:00:00Z"}
    assert (await client.post("/api/bookings", json=later, headers=bob)).status_code == 201
    clock.advance(minutes=2)
    stats = await _stats(client, practice)
    confirmation = _objective(stats, "confirmation_within_60s")
    assert (confirmation["measured"], confirmation["within"], confirmation["met"]) == (2, 1, False)
    assert stats["queue"]["backlog"] >= 1 and stats["queue"]["promoter"] == "absent"
    assert stats["bookings"]["attempts"] == 4


async def test_failed_deliveries_and_dead_jobs_are_counted(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    smtp.refuse = 1
    me = await register(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=me)).status_code == 201
    assert await run_all_due(ctx, settings) == ["retry_wait"]
    stats = await _stats(client, practice)
    assert stats["failures"]["failed_deliveries"] == 1
    assert stats["deliveries"]["failing"] == 1
    clock.advance(minutes=1)
    assert await run_all_due(ctx, settings) == ["succeeded"]
    stats = await _stats(client, practice)
    assert stats["deliveries"] == {"messages": 1, "sent": 1, "failed_attempts": 1, "failing": 0}

    # A confirmation that never gets through gives up: a dead letter, in the window and queue.
    smtp.refuse = 1_000
    later = {**body, "start": "2027-03-03T14:00:00Z"}
    assert (await client.post("/api/bookings", json=later, headers=me)).status_code == 201
    outcomes: list[str] = []
    for _ in range(12):
        outcomes += await run_all_due(ctx, settings)
        if "dead" in outcomes:
            break
        clock.advance(hours=1)
    assert "dead" in outcomes
    stats = await _stats(client, practice)
    assert stats["failures"]["dead_jobs"] == 1 and stats["queue"]["dead"] == 1


async def test_only_admins_and_only_sensible_windows(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    assert (await client.get("/api/admin/stats", headers=me)).status_code == 403
    backwards = await client.get(
        "/api/admin/stats?from=2027-03-02&to=2027-03-01", headers=practice.admin
    )
    assert backwards.status_code == 422 and backwards.json()["error"] == "invalid_window"
    month = await client.get("/api/admin/stats", headers=practice.admin)
    assert month.status_code == 200 and month.json()["step_seconds"] == 3600
