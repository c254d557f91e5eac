"""Calendar files for a booking (RFC 5545, via the icalendar package), with iTIP methods
(RFC 5546): the confirmation's invite is a REQUEST naming the organizer (the practice) and the
attendee (the client), which calendar clients need to treat it as an invitation rather than a
plain file; a cancellation is a CANCEL of the same UID with a higher SEQUENCE, which removes the
event from the calendar it was added to; a download from the account page is a PUBLISH."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    uid: str  # the same for every version of one booking
    sequence: int  # grows with every change of the booking (see `compose.sequence`)
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str
    organizer_email: str
    organizer_name: str
    attendee_email: str
    attendee_name: str
    url: str | None = None  # an online session's link, which calendars make clickable


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["cn"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def calendar_file(entry: CalendarEntry, *, method: Method, stamp: datetime) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//Holdfast//Booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", entry.start)  # UTC instants: every calendar shows them in its own zone
    event.add("dtend", entry.end)
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    event.add("location", entry.location)
    if entry.url:
        event.add("url", entry.url)
    event.add("organizer", _address(entry.organizer_email, entry.organizer_name))
    if method != "PUBLISH":  # a download is the client's own copy, not an invitation
        event.add(
            "attendee",
            _address(
                entry.attendee_email,
                entry.attendee_name,
                role="REQ-PARTICIPANT",
                partstat="ACCEPTED",  # they booked it themselves
                rsvp="FALSE",
            ),
        )
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical.decode()
