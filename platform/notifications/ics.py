"""The calendar invite attached to a confirmation (RFC 5545, via the icalendar package)."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event


def invite(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    organizer: str,
    stamp: datetime,
    url: str | None = None,
) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//Holdfast//Booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)  # UTC instants: every calendar shows them in its own zone
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("organizer", f"mailto:{organizer}")
    event.add("status", "CONFIRMED")
    if url:  # an online session: where it takes place, and the link calendars make clickable
        event.add("location", url)
        event.add("url", url)
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical.decode()
