"""Google Calendar both ways, against a fake Google on loopback driven by the real client
libraries: connecting (OAuth), busy time blocking availability and booking, bookings written as
events, outages, revoked grants and expired sync tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from holdfast.bookings.models import Booking
from holdfast.bookings.moves import move_booking
from holdfast.context import Context
from holdfast.integrations.google.events import event_id
from holdfast.integrations.models import ExternalBusy, GoogleConnection
from holdfast.jobs.models import Job
from holdfast.scheduling import horizon
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes.google import FakeGoogle
from tests.support import Practice, register, run_all_due

WEDNESDAY = "2027-03-03"  # London is on UTC then: its 09:00-17:00 are 09:00-17:00Z


def at(hhmm: str, day: str = WEDNESDAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


@pytest.fixture
def settings(settings: Settings, google: FakeGoogle) -> Settings:
    return settings.model_copy(
        update={**google.settings(), "google_timeout_seconds": 5.0, "job_timeout_seconds": 20}
    )


async def connect(client: httpx.AsyncClient, practice: Practice, provider_id: str) -> None:
    """What the admin's browser does: ask for the consent page, agree (the fake agrees at once
    and redirects back with a code), land on our callback."""
    asked = await client.get(
        f"/api/admin/providers/{provider_id}/google/connect", headers=practice.admin
    )
    assert asked.status_code == 200, asked.text
    async with httpx.AsyncClient() as outside:
        consent = await outside.get(asked.json()["url"])
    assert consent.status_code == 302, consent.text
    back = httpx.URL(consent.headers["location"])
    assert back.path == "/oauth/google/callback"
    landed = await client.get(f"{back.path}?{back.query.decode()}")
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/admin/integrations?google=connected"


async def sync(client: httpx.AsyncClient, practice: Practice, provider_id: str) -> httpx.Response:
    return await client.post(
        f"/api/admin/providers/{provider_id}/google/sync", headers=practice.admin
    )


async def starts(client: httpx.AsyncClient, practice: Practice, day: str = WEDNESDAY) -> set[str]:
    found = await client.get(
        "/api/availability",
        params={"service_id": practice.session, "provider_id": practice.london, "from": day,
                "days": 1, "tz": "UTC"},
    )  # fmt: skip
    assert found.status_code == 200, found.text
    return {slot["start"] for slot in found.json()["slots"]}


async def book(
    client: httpx.AsyncClient, practice: Practice, user: dict[str, str], start: datetime
) -> httpx.Response:
    body = {
        "service_id": practice.session,
        "provider_id": practice.london,
        "start": start.isoformat(),
    }
    return await client.post("/api/bookings", json=body, headers=user)


async def board(client: httpx.AsyncClient, practice: Practice) -> list[dict[str, Any]]:
    found = await client.get("/api/admin/integrations", headers=practice.admin)
    assert found.status_code == 200, found.text
    rows: list[dict[str, Any]] = found.json()
    return rows


async def london_row(client: httpx.AsyncClient, practice: Practice) -> dict[str, Any]:
    rows = [r for r in await board(client, practice) if r.get("provider_id") == practice.london]
    assert len(rows) == 1 and rows[0]["integration"] == "google"
    return rows[0]


async def test_a_booking_for_a_provider_without_a_calendar_asks_nothing_about_calendars(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    """The common case costs the booking path no round trip: no calendar is connected, so
    neither busy time nor connections (nor meetings) are read while booking or moving."""
    await ctx.db.command({"profile": 2})  # mongod records every operation on this database
    try:
        user = await register(client)
        made = await book(client, practice, user, at("10:00"))
        assert made.status_code == 201, made.text
        booking = await Booking.get(made.json()["id"])
        assert booking is not None
        await move_booking(ctx, booking, start=at("13:00"), actor="admin")
    finally:
        await ctx.db.command({"profile": 0})
    profile = ctx.db["system.profile"]
    assert await profile.count_documents({"ns": f"{ctx.db.name}.bookings"})  # it saw the booking
    assert await profile.count_documents({"ns": f"{ctx.db.name}.external_busy"}) == 0
    # At most the process's look at which calendars are connected (all of them, once a
    # second): never a look per booking, in its transaction.
    looks = await profile.find({"ns": f"{ctx.db.name}.google_connections"}).to_list()
    assert all(look["command"]["filter"] == {} for look in looks), looks
    assert not any("txnNumber" in look["command"] for look in looks), looks


async def test_connecting_and_busy_time_blocking_availability_and_booking(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
) -> None:
    assert (await london_row(client, practice))["state"] == "off"  # a prompt to connect
    await connect(client, practice, practice.london)
    consent = google.consents[-1]
    assert consent["access_type"] == "offline" and consent["state"]
    assert consent["redirect_uri"] == "http://127.0.0.1:8000/oauth/google/callback"
    await run_all_due(ctx, settings)  # the first read, asked for by connecting
    row = await london_row(client, practice)
    assert row["state"] == "connected" and row["last_synced_at"] is not None

    # The refresh token is kept sealed: the database never holds it in clear.
    stored = await GoogleConnection.get_pymongo_collection().find_one({})
    assert stored is not None
    assert not any(token in str(stored) for token in google.refresh_tokens)

    assert "2027-03-03T11:00:00Z" in await starts(client, practice)
    dentist = google.add_busy(at("11:00"), at("12:00"))
    google.add_busy(at("14:00"), at("15:00"), transparent=True)  # free time: not busy
    read = await sync(client, practice, practice.london)
    assert read.status_code == 200, read.text
    assert read.json()["full"] is False and read.json()["changed"] == 2
    offered = await starts(client, practice)
    # 10:00 runs to 11:15 with its buffer; 11:00 is the dentist; 14:00 is free time.
    assert "2027-03-03T11:00:00Z" not in offered and "2027-03-03T10:00:00Z" not in offered
    assert {"2027-03-03T12:00:00Z", "2027-03-03T14:00:00Z"} <= offered

    client_headers = await register(client)
    refused = await book(client, practice, client_headers, at("11:00"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "slot_taken"
    assert all(a["start"] != "2027-03-03T11:00:00Z" for a in refused.json()["alternatives"])

    google.remove(dentist)  # the provider deletes it in Google
    assert (await sync(client, practice, practice.london)).status_code == 200
    assert "2027-03-03T11:00:00Z" in await starts(client, practice)
    assert (await book(client, practice, client_headers, at("11:00"))).status_code == 201


async def test_a_forged_or_replayed_state_is_refused(
    client: httpx.AsyncClient, practice: Practice, google: FakeGoogle
) -> None:
    forged = await client.get("/oauth/google/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 403 and forged.json()["error"] == "oauth_state_invalid"
    asked = await client.get(
        f"/api/admin/providers/{practice.london}/google/connect", headers=practice.admin
    )
    async with httpx.AsyncClient() as outside:
        consent = await outside.get(asked.json()["url"])
    back = httpx.URL(consent.headers["location"])
    first = await client.get(f"{back.path}?{back.query.decode()}")
    assert first.status_code == 303
    replayed = await client.get(f"{back.path}?{back.query.decode()}")
    assert replayed.status_code == 403 and replayed.json()["error"] == "oauth_state_invalid"
    assert (await client.get("/oauth/google/callback")).status_code == 403
    refused = await client.get(
        f"/api/admin/providers/{practice.london}/google/connect", headers=await register(client)
    )
    assert refused.status_code == 403


async def test_disconnecting_is_idempotent(
    client: httpx.AsyncClient, practice: Practice, google: FakeGoogle
) -> None:
    """DELETE means "no calendar connected afterwards": a calendar never connected, or already
    disconnected (a retried request), is disconnected already; only an unknown provider is
    404."""
    path = f"/api/admin/providers/{practice.london}/google"
    never = await client.delete(path, headers=practice.admin)
    assert never.status_code == 204, never.text
    await connect(client, practice, practice.london)
    assert (await london_row(client, practice))["state"] == "connected"
    for _ in range(2):
        gone = await client.delete(path, headers=practice.admin)
        assert gone.status_code == 204, gone.text
    assert (await london_row(client, practice))["state"] == "off"
    unknown = await client.delete(
        f"/api/admin/providers/{PydanticObjectId()}/google", headers=practice.admin
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "provider_not_found"


async def test_bookings_become_events_moved_and_deleted_with_them(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
) -> None:
    await connect(client, practice, practice.london)
    await run_all_due(ctx, settings)
    user = await register(client)
    made = await book(client, practice, user, at("10:00"))
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    await run_all_due(ctx, settings)
    events = google.ours()
    booking = await Booking.get(booking_id)
    assert booking is not None and list(events) == [event_id(booking.id)]  # type: ignore[arg-type]
    event = events[event_id(booking.id)]  # type: ignore[arg-type]
    assert event["summary"] == "Session with Client"
    assert event["start"]["dateTime"] == "2027-03-03T10:00:00Z"
    assert "@" not in event["description"]  # names only, no contact details

    # Our own event is not busy time: the booking's time is taken once, by the booking.
    assert (await sync(client, practice, practice.london)).status_code == 200
    assert await ExternalBusy.get_pymongo_collection().count_documents({}) == 0

    await move_booking(ctx, booking, start=at("13:00"), actor="admin")
    await run_all_due(ctx, settings)
    moved = google.ours()
    assert list(moved) == [event_id(booking.id)]  # type: ignore[arg-type]
    assert moved[event_id(booking.id)]["start"]["dateTime"] == "2027-03-03T13:00:00Z"  # type: ignore[arg-type]

    cancelled = await client.post(f"/api/bookings/{booking_id}/cancel", json={}, headers=user)
    assert cancelled.status_code == 200
    await run_all_due(ctx, settings)
    assert google.ours() == {}
    # One event all along (its id is the booking's): made, moved, deleted.
    assert list(google.events) == [event_id(booking.id)]  # type: ignore[arg-type]


async def test_an_outage_delays_events_without_failing_bookings_or_duplicating(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    """20 one-off bookings (one a weekday) while Google answers 503 with Retry-After: all are
    booked; the events appear once Google is back, once each."""
    await connect(client, practice, practice.london)
    await run_all_due(ctx, settings)
    google.down, google.retry_after = True, 900
    user = await register(client)
    first = at("10:00")
    days = [
        first + timedelta(days=d) for d in range(40) if (first + timedelta(days=d)).weekday() < 5
    ]
    booked = []
    for start in days[:20]:
        made = await book(client, practice, user, start)
        assert made.status_code == 201, made.text
        booked.append(made.json()["id"])
    await run_all_due(ctx, settings)
    waiting = await Job.find({"kind": "google.event"}).to_list()
    assert len(waiting) == 20 and all(j.state == "retry_wait" for j in waiting)
    # Retry-After: 900 s is honoured, however short the first backoff would be.
    assert all(j.run_at >= clock.now + timedelta(seconds=899) for j in waiting)
    row = await london_row(client, practice)
    assert row["state"] == "failing" and "503" in row["last_error"] and row["failing_since"]
    assert google.ours() == {}

    google.down = False
    for _ in range(5):
        clock.advance(minutes=20)
        await run_all_due(ctx, settings)
    # Each booking's own event, once: the retries after the outage made no second one.
    assert set(google.ours()) == {event_id(PydanticObjectId(b)) for b in booked}
    assert len(google.events) == 20
    assert await Job.find({"kind": "google.event", "state": {"$ne": "succeeded"}}).count() == 0
    assert (await london_row(client, practice))["state"] == "connected"


async def test_a_revoked_grant_is_failing_and_the_busy_time_read_before_stays(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
) -> None:
    await connect(client, practice, practice.london)
    google.add_busy(at("11:00"), at("12:00"))
    await run_all_due(ctx, settings)
    assert "2027-03-03T11:00:00Z" not in await starts(client, practice)

    google.revoke_all()  # the provider removed Holdfast's access in their Google account
    refused = await sync(client, practice, practice.london)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "google_reconnect_needed"
    row = await london_row(client, practice)
    assert row["state"] == "failing" and row["reconnect_needed"] is True
    assert "invalid_grant" in row["last_error"] and row["failing_since"] is not None
    assert "2027-03-03T11:00:00Z" not in await starts(client, practice)  # still in force

    await connect(client, practice, practice.london)  # connecting again fixes it
    await run_all_due(ctx, settings)
    assert (await london_row(client, practice))["state"] == "connected"


async def test_an_expired_sync_token_reads_everything_again_across_pages(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
) -> None:
    google.page_size = 5
    await connect(client, practice, practice.london)
    old = google.add_busy(at("11:00"), at("12:00"))
    for day in range(4, 16):  # 12 more events: three pages
        google.add_busy(at("09:00", f"2027-03-{day:02d}"), at("10:00", f"2027-03-{day:02d}"))
    await run_all_due(ctx, settings)
    assert "2027-03-03T11:00:00Z" not in await starts(client, practice)
    assert "2027-03-15T09:00:00Z" not in await starts(client, practice, "2027-03-15")

    google.expire_sync_tokens()
    google.remove(old)
    google.add_busy(at("13:00"), at("14:00"))
    read = await sync(client, practice, practice.london)
    assert read.status_code == 200, read.text
    assert read.json()["full"] is True
    offered = await starts(client, practice)
    assert "2027-03-03T11:00:00Z" in offered and "2027-03-03T13:00:00Z" not in offered
    assert "2027-03-15T09:00:00Z" not in await starts(client, practice, "2027-03-15")


async def test_a_series_booked_and_extended_through_an_outage_gets_each_event_once(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    """A weekly series made while Google is down (12 sessions booked at once), and booked on by
    the horizon job eight weeks later, still down (8 more): every session is booked; when
    Google comes back, first losing its answers to writes that landed, then whole, each
    session's event is in the calendar once, inserted once."""
    await connect(client, practice, practice.london)
    await run_all_due(ctx, settings)
    google.down, google.retry_after = True, 900
    user = (await client.get("/api/me", headers=await register(client))).json()["id"]
    body = {
        "user_id": user, "service_id": practice.session, "provider_id": practice.london,
        "rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2027-03-03T10:00",
        "timezone": "Europe/London",
    }  # fmt: skip
    made = await client.post("/api/admin/series", json=body, headers=practice.admin)
    assert made.status_code == 201, made.text
    assert len(made.json()["occurrences"]) == 12 and made.json()["conflicts"] == []
    await run_all_due(ctx, settings)
    clock.advance(weeks=8)
    await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
    await run_all_due(ctx, settings)
    assert google.ours() == {}
    # (Weeks later the admin's login has expired: the connection is read where the board does.)
    assert (await GoogleConnection.get(practice.london)).state == "failing"  # type: ignore[union-attr]
    series_id = PydanticObjectId(made.json()["id"])
    sessions = await Booking.find({"series_id": series_id}).to_list()
    assert len(sessions) == 20 and all(b.status == "confirmed" for b in sessions)

    google.down, google.lose_answers = False, True
    clock.advance(minutes=20)
    await run_all_due(ctx, settings)
    assert len(google.ours()) == 20  # written, but no answer came back: retried
    google.lose_answers = False
    for _ in range(3):
        clock.advance(minutes=20)
        await run_all_due(ctx, settings)
    assert set(google.ours()) == {event_id(b.id) for b in sessions}  # type: ignore[arg-type]
    assert len(google.events) == 20 and set(google.inserted.values()) == {1}
    assert await Job.find({"kind": "google.event", "state": {"$ne": "succeeded"}}).count() == 0
    assert (await GoogleConnection.get(practice.london)).state == "connected"  # type: ignore[union-attr]
