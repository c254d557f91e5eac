"""The work a booking's status change schedules, written in that change's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from holdfast.bookings.models import Booking
from holdfast.catalog.models import Service
from holdfast.db import Session
from holdfast.events import Event
from holdfast.jobs.models import Job
from holdfast.jobs.service import cancel_pending, new_job, schedule, schedule_all


def subject(booking: Booking) -> str:
    return f"booking:{booking.id}"


async def on_confirmed(
    session: Session, booking: Booking, service: Service, now: datetime
) -> list[Job]:
    """A confirmation now, and a reminder before the start (if that is still ahead)."""
    payload = {"booking_id": str(booking.id)}
    jobs = [
        new_job(
            kind="notify.confirmation",
            subject=subject(booking),
            run_at=now,
            now=now,
            payload=payload,
            intended=booking.created_at,
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
                payload=payload,
            )
        )
    # Both in one round trip: this runs inside the booking's transaction, on the success path.
    return await schedule_all(session, jobs)


async def on_cancelled(session: Session, booking: Booking, now: datetime) -> list[Job]:
    """Pending reminders stop; both parties hear of the cancellation."""
    await cancel_pending(session, subject=subject(booking), now=now)
    notice = await schedule(
        session, kind="notify.cancellation", subject=subject(booking), run_at=now, now=now,
        payload={"booking_id": str(booking.id)}, intended=booking.updated_at,
    )  # fmt: skip
    return [notice]


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
