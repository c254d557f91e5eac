"""A Zoom meeting for every video session, against a fake Zoom on loopback driven by zoomus:
the link on the booking, in the confirmation and its invite, moved and deleted with the booking,
one shared token, and outages that never hold up a booking."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from holdfast.bookings.models import Booking
from holdfast.bookings.moves import move_booking
from holdfast.context import Context
from holdfast.integrations.models import MeetingRecord
from holdfast.integrations.zoom.tokens import access_token
from holdfast.jobs.models import Job
from holdfast.jobs.registry import default_registry
from holdfast.jobs.runner import run_job
from holdfast.notifications.models import Message
from holdfast.settings import Settings
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import Clock
from tests.fakes.zoom import FakeZoom
from tests.integration.conftest import FailCommands
from tests.support import Practice, register, run_all_due

START = "2027-03-03T10:00:00+00:00"  # a Wednesday inside London's hours (UTC in March)


@pytest.fixture
def settings(settings: Settings, zoom: FakeZoom) -> Settings:
    return settings.model_copy(
        update={**zoom.settings(), "zoom_timeout_seconds": 5.0, "job_timeout_seconds": 20}
    )


async def video_service(client: httpx.AsyncClient, practice: Practice) -> str:
    body = {
        "name": "Video session",
        "duration_minutes": 50,
        "slot_step_minutes": 60,
        "provider_ids": [practice.london],
        "location": "video",
    }
    created = await client.post("/api/admin/services", json=body, headers=practice.admin)
    assert created.status_code == 201, created.text
    assert created.json()["location"] == "video"
    return str(created.json()["id"])


async def book(
    client: httpx.AsyncClient, practice: Practice, service: str, user: dict[str, str]
) -> dict[str, Any]:
    body = {"service_id": service, "provider_id": practice.london, "start": START}
    made = await client.post("/api/bookings", json=body, headers=user)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def settle(ctx: Context, settings: Settings, clock: Clock, rounds: int = 6) -> None:
    """Run what is due, a few seconds apart: a confirmation may look for its link again."""
    for _ in range(rounds):
        await run_all_due(ctx, settings)
        clock.advance(seconds=3)


async def zoom_row(client: httpx.AsyncClient, practice: Practice) -> dict[str, Any]:
    found = await client.get("/api/admin/integrations", headers=practice.admin)
    assert found.status_code == 200, found.text
    [row] = [r for r in found.json() if r["integration"] == "zoom"]
    return dict(row)


async def confirmations(booking_id: str, template: str = "confirmation") -> list[Message]:
    return await Message.find({"booking_id": booking_id, "template": template}).to_list()


async def test_a_video_booking_gets_one_meeting_its_link_everywhere_moved_and_deleted(
    client: httpx.AsyncClient,
    practice: Practice,
    zoom: FakeZoom,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    service = await video_service(client, practice)
    user = await register(client)
    booking = await book(client, practice, service, user)
    assert booking["meeting"] is None  # booking never waits for Zoom
    await settle(ctx, settings, clock)

    assert len(zoom.meetings) == 1
    meeting = next(iter(zoom.meetings.values()))
    assert f"[holdfast:{booking['id']}]" in meeting["agenda"]
    assert meeting["start_time"] == "2027-03-03T10:00:00Z" and meeting["duration"] == 50
    seen = await client.get(f"/api/bookings/{booking['id']}", headers=user)
    assert seen.json()["meeting"] == {"provider": "zoom", "join_url": meeting["join_url"]}
    [confirmation] = await confirmations(booking["id"])
    assert meeting["join_url"] in confirmation.body
    assert confirmation.ics is not None and meeting["join_url"] in confirmation.ics
    assert "LOCATION:" in confirmation.ics and "URL:" in confirmation.ics
    assert await confirmations(booking["id"], "meeting_link") == []  # it had the link

    stored = await Booking.get(booking["id"])
    assert stored is not None
    await move_booking(ctx, stored, start=datetime.fromisoformat("2027-03-03T13:00:00+00:00"),
                       actor="admin")  # fmt: skip
    await settle(ctx, settings, clock)
    assert len(zoom.meetings) == 1  # the same meeting, moved
    assert next(iter(zoom.meetings.values()))["start_time"] == "2027-03-03T13:00:00Z"

    cancelled = await client.post(f"/api/bookings/{booking['id']}/cancel", json={}, headers=user)
    assert cancelled.status_code == 200
    await settle(ctx, settings, clock)
    assert zoom.meetings == {}
    assert (await client.get(f"/api/bookings/{booking['id']}", headers=user)).json()[
        "meeting"
    ] is None
    assert zoom.tokens_issued == 1  # one shared token did all of it


async def test_zoom_down_the_booking_stands_the_confirmation_goes_and_the_link_follows(
    client: httpx.AsyncClient,
    practice: Practice,
    zoom: FakeZoom,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    service = await video_service(client, practice)
    user = await register(client)
    zoom.down, zoom.retry_after = True, 300
    booking = await book(client, practice, service, user)
    await settle(ctx, settings, clock, rounds=3)
    assert await confirmations(booking["id"]) == []  # waiting for the link (60 s)
    clock.advance(seconds=60)
    await settle(ctx, settings, clock, rounds=2)
    [confirmation] = await confirmations(booking["id"])  # went without it
    assert "Online:" not in confirmation.body
    # The looks for the link were postponements, not failures: the tries left are untouched.
    [sent] = await Job.find({"kind": "notify.confirmation"}).to_list()
    assert sent.state == "succeeded" and sent.postponed >= 2 and sent.attempts - sent.postponed == 1
    [job] = await Job.find({"kind": "zoom.meeting"}).to_list()
    assert job.state == "retry_wait" and job.run_at >= clock.now + timedelta(seconds=200)
    row = await zoom_row(client, practice)
    assert row["state"] == "failing" and "503" in row["last_error"]

    zoom.down = False
    clock.advance(minutes=6)
    await settle(ctx, settings, clock)
    assert len(zoom.meetings) == 1
    link = next(iter(zoom.meetings.values()))["join_url"]
    [follow_up] = await confirmations(booking["id"], "meeting_link")
    assert link in follow_up.body
    # It updates the invite the confirmation carried (read by an independent parser): the same
    # event, a later version, now with the link.
    assert confirmation.ics is not None and follow_up.ics is not None
    [first] = IcsCalendarStream.calendar_from_ics(confirmation.ics).events
    [update] = IcsCalendarStream.calendar_from_ics(follow_up.ics).events
    assert update.uid == first.uid and update.sequence > first.sequence
    assert link not in (first.location or "") and update.location == link
    assert "METHOD:REQUEST" in follow_up.ics
    assert (await zoom_row(client, practice))["state"] == "connected"


async def test_a_claim_whose_meeting_was_made_finds_it_instead_of_making_another(
    client: httpx.AsyncClient,
    practice: Practice,
    zoom: FakeZoom,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    """What a worker killed between Zoom's 201 and our write leaves behind: a claim without a
    meeting id, and a meeting at Zoom. The next try finds it (see also the acceptance test with
    a real SIGKILLed worker)."""
    service = await video_service(client, practice)
    booking = await book(client, practice, service, await register(client))
    await settle(ctx, settings, clock)
    assert len(zoom.meetings) == 1
    # Forget what the write recorded, as if the worker had died before it.
    await MeetingRecord.get_pymongo_collection().update_one(
        {},
        {
            "$set": {
                "state": "creating",
                "meeting_id": None,
                "join_url": None,
                "creating_until": None,
            }
        },
    )
    await Booking.get_pymongo_collection().update_one({}, {"$set": {"meeting": None}})
    await Job.get_pymongo_collection().update_many(
        {"kind": "zoom.meeting"}, {"$set": {"state": "scheduled", "run_at": clock.now}}
    )
    await settle(ctx, settings, clock)
    assert len(zoom.meetings) == 1
    record = await MeetingRecord.get(booking["id"])
    assert record is not None and record.state == "created"
    assert record.meeting_id == str(next(iter(zoom.meetings.values()))["id"])


async def test_many_callers_share_one_token(
    zoom: FakeZoom, ctx: Context, settings: Settings
) -> None:
    tokens = await asyncio.gather(*(access_token(ctx) for _ in range(20)))
    assert set(tokens) == {zoom.token} and zoom.tokens_issued == 1
    # Zoom refused it (replaced elsewhere): the next caller fetches one, once.
    again = await asyncio.gather(*(access_token(ctx, stale=tokens[0]) for _ in range(5)))
    assert zoom.tokens_issued == 2 and set(again) == {zoom.token}


async def test_a_confirmation_going_the_instant_the_link_is_written_still_gets_it_across(
    client: httpx.AsyncClient,
    practice: Practice,
    zoom: FakeZoom,
    ctx: Context,
    settings: Settings,
    clock: Clock,
    fail_commands: FailCommands,
) -> None:
    """The confirmation's wait for the link is over and it goes; the meeting's link is written
    while the confirmation is between reading the booking and storing its message (mongod holds
    that insert), and the follow-up runs then too. The client still gets the link, once."""
    service = await video_service(client, practice)
    zoom.down, zoom.retry_after = True, 300
    booking = await book(client, practice, service, await register(client))
    await run_all_due(ctx, settings)  # the confirmation waits; Zoom is down
    zoom.down = False
    clock.advance(seconds=301)  # the wait is over, and the meeting's job is due again
    registry = default_registry(settings)
    [confirmation] = await Job.find({"kind": "notify.confirmation"}).to_list()
    [meeting] = await Job.find({"kind": "zoom.meeting"}).to_list()

    fail_commands(["insert"], blockConnection=True, blockTimeMS=3000)  # the message's insert
    confirming = asyncio.create_task(run_job(ctx, confirmation.id, registry))
    held = {"active": True, "command.insert": "messages"}
    for _ in range(500):
        if (await ctx.mongo.admin.command({"currentOp": 1, **held}))["inprog"]:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the confirmation never reached its message's insert")
    assert await run_job(ctx, meeting.id, registry) == "succeeded"  # the link is written
    await run_all_due(ctx, settings)  # and whatever follows it runs, still before the insert
    assert await confirming == "succeeded"
    await run_all_due(ctx, settings)

    link = next(iter(zoom.meetings.values()))["join_url"]
    told = [m for m in await Message.find({"booking_id": booking["id"]}).to_list()]
    assert [m.template for m in told if link in m.body] in (["confirmation"], ["meeting_link"])
    assert len([m for m in told if m.template == "confirmation"]) == 1
