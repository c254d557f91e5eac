"""Calendar invites over real SMTP, read back with an independent parser (`ical`, not the
`icalendar` package that writes them): a confirmation is an iTIP REQUEST with its ATTENDEE,
ORGANIZER, LOCATION and DESCRIPTION; a reschedule is a REQUEST of the same UID with a higher
SEQUENCE; a cancellation is a CANCEL of the same UID with a higher SEQUENCE still."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings
from ical.calendar import Calendar
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import Clock
from tests.fakes import SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

START, LATER = "2027-03-03T11:00:00Z", "2027-03-03T14:00:00Z"  # Wednesday; the clock: Monday


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink) -> Settings:
    changed = with_senders(settings, smtp.url, "http://127.0.0.1:9/unused")
    return changed.model_copy(update={"practice_address": "12 Harbour Street, Leith"})


def invites_to(smtp: SmtpSink, address: str) -> list[tuple[str, Calendar]]:
    """(the MIME part's method, the parsed calendar) of every invite sent to `address`."""
    found = []
    for mail in smtp.messages:
        if mail["To"] != address:
            continue
        for part in mail.walk():
            if part.get_content_type() == "text/calendar":
                assert isinstance(part, EmailMessage)
                # MIME-Version heads the message, not its parts (RFC 2045).
                assert (mail["MIME-Version"], part["MIME-Version"]) == ("1.0", None)
                calendar = IcsCalendarStream.calendar_from_ics(part.get_content())
                found.append((str(part.get_param("method")), calendar))
    return found


def the_event(calendar: Calendar) -> Any:
    [event] = calendar.events
    return event


async def test_invites_request_move_and_cancel_the_same_event(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    me = await register(client, email="ines@example.com", name="Ines Ortiz")
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    booked = await client.post("/api/bookings", json=body, headers=me)
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]
    await run_all_due(ctx, settings)

    [(method, calendar)] = invites_to(smtp, "ines@example.com")
    first = the_event(calendar)
    assert method == "REQUEST" and calendar.method == "REQUEST"
    [attendee] = first.attendees
    assert attendee.uri == "mailto:ines@example.com" and attendee.common_name == "Ines Ortiz"
    assert first.organizer is not None and first.organizer.uri.startswith("mailto:")
    assert first.location == "12 Harbour Street, Leith"
    assert "Session with Ada" in first.description and booking_id in first.description
    assert first.dtstart.isoformat().startswith("2027-03-03T11:00:00")

    clock.advance(minutes=5)
    moved = await client.post(
        f"/api/bookings/{booking_id}/reschedule", json={"start": LATER}, headers=me
    )
    assert moved.status_code == 200, moved.text
    await run_all_due(ctx, settings)
    (_, _), (method, calendar) = invites_to(smtp, "ines@example.com")
    second = the_event(calendar)
    assert method == "REQUEST" and second.uid == first.uid
    assert second.sequence > first.sequence
    assert second.dtstart.isoformat().startswith("2027-03-03T14:00:00")

    clock.advance(minutes=5)
    cancelled = await client.post(f"/api/bookings/{booking_id}/cancel", json={}, headers=me)
    assert cancelled.status_code == 200
    await run_all_due(ctx, settings)
    *_, (method, calendar) = invites_to(smtp, "ines@example.com")
    third = the_event(calendar)
    assert method == "CANCEL" and calendar.method == "CANCEL"
    assert third.uid == first.uid and third.sequence > second.sequence
    assert str(third.status).upper().endswith("CANCELLED")
    # The practice's copy of the cancellation is a plain notice, with no calendar file.
    assert all(
        part.get_content_type() != "text/calendar"
        for mail in smtp.messages
        if mail["To"] != "ines@example.com"
        for part in mail.walk()
    )


async def test_add_to_calendar_downloads_the_booking_for_its_owner_only(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client, email="jo@example.com", name="Jo")
    other = await register(client, email="kit@example.com")
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    booking_id = (await client.post("/api/bookings", json=body, headers=me)).json()["id"]

    got = await client.get(f"/api/bookings/{booking_id}/calendar.ics", headers=me)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/calendar")
    assert "attachment" in got.headers["content-disposition"]
    calendar = IcsCalendarStream.calendar_from_ics(got.text)
    event = the_event(calendar)
    assert event.uid == f"{booking_id}@holdfast"
    assert event.location == "12 Harbour Street, Leith"
    assert event.dtend.isoformat().startswith("2027-03-03T12:00:00")

    refused = await client.get(f"/api/bookings/{booking_id}/calendar.ics", headers=other)
    assert refused.status_code == 404
    admin = await client.get(f"/api/bookings/{booking_id}/calendar.ics", headers=practice.admin)
    assert admin.status_code == 200
