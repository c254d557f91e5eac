"""What the Calendly domain does when a booking changes in Holdfast."""

from __future__ import annotations

from holdfast.bookings.followups import Change, subject
from holdfast.db import Session
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job


async def cancel_in_calendly(session: Session, change: Change) -> list[Job]:
    """A meeting made in Calendly and cancelled in Holdfast (client or admin) is cancelled in
    Calendly too, so both sides agree; not when Calendly is where the cancellation came from."""
    booking = change.booking
    if change.kind != "cancelled" or change.origin == "calendly" or not booking.calendly_event_uri:
        return []
    reason = f"Cancelled in Holdfast: {booking.cancel_reason or 'no reason given'}."
    return [
        new_job(
            kind="calendly.cancel",
            subject=subject(booking),
            run_at=change.now,
            now=change.now,
            payload={"event_uri": booking.calendly_event_uri, "message": reason},
            intended=booking.updated_at,
        )
    ]
