"""Periodic jobs, and the retention job that keeps the database from growing without bound.

Months pass on the test clock: past claim units, finished jobs and old messages go; bookings,
their audit trail, future claims and dead jobs stay.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from holdfast.bookings.models import Booking, BookingEvent, SlotClaim
from holdfast.context import Context
from holdfast.jobs.models import Heartbeat, Job
from holdfast.jobs.periodic import next_occurrence
from holdfast.jobs.registry import default_registry
from holdfast.jobs.retention import EVERY, KIND
from holdfast.notifications.models import Message
from holdfast.settings import Settings

from promoter.loop import PromoterState, heartbeat, tick
from tests.conftest import T0, Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, make_admin, register, run_all_due, with_senders


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    # Tiny batches: every collection takes several batches, as a large one would.
    return with_senders(settings, smtp.url, sms.url).model_copy(update={"retention_batch": 2})


async def promoter_tick(ctx: Context, state: PromoterState) -> None:
    await tick(ctx, state, ctx.now(), default_registry(ctx.settings))


async def run_retention(ctx: Context, clock: Clock, state: PromoterState) -> None:
    """What the promoter and a worker do: the next hourly occurrence is written, falls due, runs."""
    await promoter_tick(ctx, state)
    clock.now = next_occurrence(EVERY, timedelta(0), clock.now)
    await run_all_due(ctx, ctx.settings)
    done = await Job.get_pymongo_collection().find_one(
        {"kind": KIND, "run_at": clock.now, "state": "succeeded"}
    )
    assert done is not None, "the retention job did not run"


async def book(
    client: httpx.AsyncClient, practice: Practice, me: dict[str, str], start: str
) -> str:
    body = {"service_id": practice.session, "provider_id": practice.london, "start": start}
    made = await client.post("/api/bookings", json=body, headers=me)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def claims(booking_id: str) -> int:
    return await SlotClaim.find(SlotClaim.booking_id == PydanticObjectId(booking_id)).count()


async def job_states(booking_id: str) -> dict[str, str]:
    jobs = await Job.find(Job.subject == f"booking:{booking_id}").to_list()
    return {job.kind: job.state for job in jobs}


async def message_templates(booking_id: str) -> list[str]:
    found = await Message.find(Message.booking_id == booking_id).to_list()
    return sorted(m.template for m in found)


async def test_the_promoter_writes_each_periodic_occurrence_once(
    ctx: Context, clock: Clock
) -> None:
    states = [PromoterState(name="one"), PromoterState(name="two")]
    await asyncio.gather(*(promoter_tick(ctx, s) for s in states))  # two promoters at once
    await promoter_tick(ctx, states[0])
    clock.advance(minutes=30)
    await promoter_tick(ctx, states[1])
    [first] = await Job.find(Job.kind == KIND).to_list()
    assert first.run_at.replace(tzinfo=clock.now.tzinfo) == T0 + timedelta(hours=1)
    assert first.state in ("scheduled", "promoted")

    clock.now = T0 + timedelta(hours=1)  # its hour has come: it runs, and the next one exists
    await promoter_tick(ctx, states[0])
    # Other periodic kinds (payments' reconciliation) run alongside it.
    assert set(await run_all_due(ctx, ctx.settings)) == {"succeeded"}
    await promoter_tick(ctx, states[1])
    occurrences = await Job.find(Job.kind == KIND).sort("run_at").to_list()
    assert [(j.run_at.hour, j.state) for j in occurrences] == [
        (7, "succeeded"),
        (8, "scheduled"),
    ]
    # A past occurrence that retention removed is never written again.
    await Job.get_pymongo_collection().delete_one({"_id": occurrences[0].id})
    await promoter_tick(ctx, PromoterState(name="three"))
    assert [j.run_at.hour for j in await Job.find(Job.kind == KIND).to_list()] == [8]


async def test_retention_prunes_what_is_old_and_keeps_what_matters(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    state = PromoterState()
    me = await register(client)
    soon = await book(client, practice, me, "2027-03-03T11:00:00Z")  # in two days
    later = await book(client, practice, me, "2027-03-22T11:00:00Z")  # in three weeks
    assert await run_all_due(ctx, ctx.settings) == ["succeeded", "succeeded"]
    smtp.refuse = 10**6  # this one's confirmation never gets through: its job goes dead
    failing = await book(client, practice, me, "2027-03-04T11:00:00Z")
    while (await job_states(failing))["notify.confirmation"] != "dead":
        clock.advance(hours=2)
        await run_all_due(ctx, ctx.settings)
    smtp.refuse = 0
    history_before = await BookingEvent.find_all().count()

    # Forty days on: the first bookings ended more than 30 days ago, `later` 19 days ago.
    clock.now = T0 + timedelta(days=40)
    await run_all_due(ctx, ctx.settings)  # the reminders, late
    ahead = await book(client, practice, await register(client), "2027-04-12T10:00:00Z")
    await run_all_due(ctx, ctx.settings)
    await run_retention(ctx, clock, state)

    assert (await claims(soon), await claims(failing)) == (0, 0)
    assert await claims(later) == 15  # 1 h + 15 min buffer: still within 30 days
    assert await claims(ahead) == 15
    taken = await client.post(
        "/api/bookings",
        json={"service_id": practice.session, "provider_id": practice.london,
              "start": "2027-04-12T10:00:00Z"},
        headers=await register(client),
    )  # fmt: skip
    assert taken.status_code == 409  # the future is still guarded
    assert await Booking.find_all().count() == 4
    assert await BookingEvent.find_all().count() == history_before + 1  # `ahead`'s creation
    admin = await make_admin(client, ctx)  # a fresh login: forty days have passed
    history = await client.get(f"/api/bookings/{soon}/history", headers=admin)
    assert [h["action"] for h in history.json()] == ["created"]

    # Jobs finished over 30 days ago went; the reminders that ran today and the dead one stay.
    assert await job_states(soon) == {"notify.reminder": "succeeded"}
    assert await job_states(failing) == {
        "notify.confirmation": "dead",
        "notify.reminder": "succeeded",
    }
    assert await message_templates(soon) == ["confirmation", "reminder"]  # kept 90 days

    # A hundred days on: messages older than 90 days go, except the dead job's (an admin may
    # retry it, and its sent messages must not be sent again); past claims all go.
    clock.now = T0 + timedelta(days=100)
    await run_retention(ctx, clock, state)
    assert await message_templates(soon) == ["reminder"]
    assert await message_templates(later) == ["reminder"]
    assert await message_templates(failing) == ["confirmation", "reminder"]
    assert (await claims(later), await claims(ahead)) == (0, 0)
    assert await job_states(failing) == {"notify.confirmation": "dead"}

    # After a year the dead job goes too, and then its messages.
    clock.now = T0 + timedelta(days=400)
    # A promoter that stopped long ago is forgotten; the one running now is not.
    await heartbeat(ctx, PromoterState(name="promoter:gone"), T0)
    await heartbeat(ctx, PromoterState(name="promoter:here"), clock.now)
    await run_retention(ctx, clock, state)
    assert await job_states(failing) == {}
    clock.advance(days=1)
    await run_retention(ctx, clock, state)
    assert await Message.find_all().to_list() == []
    assert [h.id for h in await Heartbeat.find_all().to_list()] == ["promoter:here"]
    assert await Booking.find_all().count() == 4
    assert await BookingEvent.find_all().count() == history_before + 1
    remaining: list[dict[str, Any]] = await Job.get_pymongo_collection().find().to_list()
    # Only the periodic jobs' own recent occurrences (retention's, and any other kind's).
    assert {j["subject"] for j in remaining} == {"periodic"}
    periodic = {kind.name for kind in default_registry(ctx.settings).periodic()}
    assert KIND in {j["kind"] for j in remaining} <= periodic
