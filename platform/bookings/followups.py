"""The work a booking's status change schedules, written in that change's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from holdfast.bookings.models import Booking
from holdfast.catalog.models import Service
from holdfast.clock import iso_z
from holdfast.db import Session
from holdfast.events import Event
from holdfast.jobs.models import WAITING, Job
from holdfast.jobs.service import cancel_pending, new_job, schedule, schedule_all


def subject(booking: Booking) -> str:
    return f"booking:{booking.id}"


async def on_confirmed(
    session: Session, booking: Booking, service: Service, now: datetime
) -> list[Job]:
    """A confirmation now, and a reminder before the start (if that is still ahead)."""
    return await _confirm(session, booking, service, now, intended=booking.created_at)


async def on_moved(
    session: Session, booking: Booking, service: Service, now: datetime
) -> list[Job]:
    """The client hears of the new time (a confirmation of this move: moves within one second
    share it, and it reads the booking when it runs), and is reminded of it.

    A reminder of the old time is left to find that its start has gone (see
    `notifications.handlers`): cancelling it here would also stop the reminder of a booking
    moved back to a time it had before, whose job has the same id."""
    return await _confirm(session, booking, service, now, intended=booking.updated_at)


async def _confirm(
    session: Session, booking: Booking, service: Service, now: datetime, intended: datetime
) -> list[Job]:
    jobs = [
        new_job(
            kind="notify.confirmation",
            subject=subject(booking),
            run_at=now,
            now=now,
            payload={"booking_id": str(booking.id)},
            intended=intended,
        )
    ]
    remind_at = booking.start - timedelta(minutes=service.reminder_minutes_before)
    if service.reminder_minutes_before and remind_at > now:
        jobs.append(
            new_job(
                kind="notify.reminder",
                subject=subject(booking),
                run_at=remind_at,
                now=now,
                # The start it reminds of: after a move, a reminder of the old start stays quiet.
                payload={"booking_id": str(booking.id), "start": iso_z(booking.start)},
            )
        )
    # Both in one round trip: this runs inside the booking's transaction, on the success path.
    return await schedule_all(session, jobs)


async def on_cancelled(
    session: Session, booking: Booking, now: datetime, *, tell_calendly: bool = True
) -> list[Job]:
    """Pending reminders stop; both parties hear of the cancellation; a meeting made in Calendly
    is cancelled there too (unless Calendly is where the cancellation came from)."""
    await cancel_pending(session, subject=subject(booking), now=now)
    jobs = [
        await schedule(
            session, kind="notify.cancellation", subject=subject(booking), run_at=now, now=now,
            payload={"booking_id": str(booking.id)}, intended=booking.updated_at,
        )
    ]  # fmt: skip
    if tell_calendly and booking.calendly_event_uri:
        reason = f"Cancelled in Holdfast: {booking.cancel_reason or 'no reason given'}."
        jobs.append(
            await schedule(
                session,
                kind="calendly.cancel",
                subject=subject(booking),
                run_at=now,
                now=now,
                payload={"event_uri": booking.calendly_event_uri, "message": reason},
                intended=booking.updated_at,
            )
        )
    return jobs


async def waiting(booking: Booking) -> list[Job]:
    """The booking's jobs not yet handed to the queue: what a retry that finds an earlier commit
    pushes for it (that commit's caller may have died before pushing). Only read: scheduling
    again could bring back a job that has since run and been cleaned up."""
    found = Job.find({"subject": subject(booking), "state": {"$in": list(WAITING)}})
    return await found.to_list()


def booking_event(name: str, booking: Booking) -> Event:
    return Event(
        name,
        {
            "booking_id": str(booking.id),
            "user_id": str(booking.user_id),
            "provider_id": str(booking.provider_id),
            "service_id": str(booking.service_id),
        },
    )
