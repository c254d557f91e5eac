"""Bookings written into the provider's Google Calendar, by durable jobs.

Each slot-holding booking is one event whose id is derived from the booking's (base32hex, as
Google accepts client-chosen ids), so a retried job, or two jobs for one booking, never make a
second event. The job reads the booking when it runs and makes the calendar match it: the event
exists while the booking holds time with this provider, and is deleted otherwise (404 or 410 on
delete is success). A booking made in Calendly is left to Calendly, which writes its own event
into the host's calendar.
"""

from __future__ import annotations

import base64
from datetime import datetime

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.followups import Change
from holdfast.bookings.models import SLOT_HOLDING, Booking
from holdfast.catalog.models import Service
from holdfast.context import Context
from holdfast.db import Session
from holdfast.integrations.google import calendar
from holdfast.integrations.google.connected import connected_calendars
from holdfast.integrations.google.connections import credentials_of, failed, worked
from holdfast.integrations.models import GoogleConnection
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job, schedule

KIND = "google.event"


def event_id(booking_id: PydanticObjectId) -> str:
    """Google's event ids are base32hex (0-9, a-v), 5 to 1024 characters: the booking's 12
    bytes make 20 of them."""
    return base64.b32hexencode(booking_id.binary).decode().rstrip("=").lower()


async def follow_in_google(session: Session, change: Change) -> list[Job]:
    """A job per connected calendar the change touches: the booking's provider's and, after a
    move to another provider, the previous one's (whose event goes)."""
    booking = change.booking
    if booking.source == "calendly":
        return []
    providers = {booking.provider_id}
    if change.before is not None:
        providers.add(change.before.provider_id)
    # Not read in the transaction: every booking comes here, and most providers have no
    # calendar (see `connected_calendars`).
    connected = await connected_calendars.among(providers)
    # One job per change (the handler reads the booking when it runs, so an older job that has
    # run already must not stand in for this one, however close in time the two changes are).
    change_id = PydanticObjectId()
    return [
        new_job(
            kind=KIND,
            subject=f"google:{provider_id}:{booking.id}:{change_id}",
            run_at=change.now,
            now=change.now,
            payload={"booking_id": str(booking.id), "provider_id": str(provider_id)},
            intended=booking.updated_at,
        )
        for provider_id in connected
    ]


async def rewrite(booking: Booking, now: datetime) -> list[Job]:
    """Write the booking's event again (its meeting link arrived): the jobs, written now."""
    connected = await GoogleConnection.get_pymongo_collection().find_one(
        {"_id": booking.provider_id}, projection={"_id": 1}
    )
    if connected is None or booking.source == "calendly":
        return []
    job = await schedule(
        None, kind=KIND, subject=f"google:{booking.provider_id}:{booking.id}:{PydanticObjectId()}",
        run_at=now,
        now=now, payload={"booking_id": str(booking.id), "provider_id": str(booking.provider_id)},
    )  # fmt: skip
    return [job]


async def write_event(ctx: Context, job: Job) -> None:
    """Make the provider's calendar match the booking as it is now."""
    provider_id = PydanticObjectId(job.payload["provider_id"])
    booking_id = PydanticObjectId(job.payload["booking_id"])
    connection = await GoogleConnection.get(provider_id)
    if connection is None:
        return  # disconnected since: nothing to write to
    try:
        credentials = credentials_of(ctx, connection)
        booking = await Booking.get(booking_id)
        if _holds(booking, provider_id):
            assert booking is not None
            event = await _event_of(ctx, booking)
            outcome = await calendar.put_event(ctx.settings, credentials, event)
            # Cancelled or moved away while we wrote: make sure the event goes after all.
            if not _holds(await Booking.get(booking_id), provider_id):
                outcome = await calendar.delete_event(ctx.settings, credentials, event.id)
        else:
            outcome = await calendar.delete_event(ctx.settings, credentials, event_id(booking_id))
    except (calendar.CalendarUnavailable, calendar.GrantRevoked) as exc:
        await failed(ctx, provider_id, exc)
        raise  # retried with backoff (after Retry-After); dead jobs can be retried by an admin
    await worked(ctx, connection, outcome.tokens)


def _holds(booking: Booking | None, provider_id: PydanticObjectId) -> bool:
    return (
        booking is not None
        and booking.status in SLOT_HOLDING
        and booking.provider_id == provider_id
    )


async def _event_of(ctx: Context, booking: Booking) -> calendar.CalendarEvent:
    service = await Service.get(booking.service_id)
    client = await User.get(booking.user_id)
    service_name = service.name if service else "Session"
    client_name = client.name if client else "a client"
    link = booking.meeting.join_url if booking.meeting else None
    online = f"\nJoin online: {link}" if link else ""
    return calendar.CalendarEvent(
        id=event_id(booking.id),  # type: ignore[arg-type]
        booking_id=str(booking.id),
        summary=f"{service_name} with {client_name}",
        description=(
            f"{service_name} with {client_name}, booked in Holdfast. Change or cancel it in "
            f"Holdfast ({ctx.settings.public_url.rstrip('/')}/admin): changes made here are "
            f"not read back.{online}"
        ),
        start=booking.start,
        end=booking.end,
        location=link,
    )
