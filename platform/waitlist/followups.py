"""Any freed time starts a chain: subscribed to booking changes (see
`holdfast.bookings.followups`), whatever freed it (a cancellation by the client, an admin or
Calendly, a reschedule's old time, an unpaid hold that lapsed)."""

from __future__ import annotations

from datetime import datetime

from holdfast.bookings.followups import Change
from holdfast.clock import iso_z
from holdfast.db import Session
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job
from holdfast.waitlist.models import WaitlistEntry


def chain_start(
    *, freed_by: str, provider_id: str, service_id: str, start: datetime, now: datetime, source: str
) -> Job:
    """The job that opens the chain for a freed slot. The opening's id, and so the job's, is
    fixed by what was freed and its start: the same freeing, however often and by whichever
    path it is reported, is one chain; the same booking freeing another time later (moved
    back, then cancelled) is another."""
    opening = f"{freed_by}@{iso_z(start)}"
    return new_job(
        kind="waitlist.open",
        subject=f"opening:{opening}",
        run_at=now,
        now=now,
        payload={
            "opening_id": opening,
            "provider_id": provider_id,
            "service_id": service_id,
            "start": iso_z(start),
            "freed_at": iso_z(now),
            "source": source,
        },
        intended=start,
    )


async def offer_freed(session: Session, change: Change) -> list[Job]:
    """A job that offers the freed time to the waitlist, if anyone waits for its service (one
    indexed look in the change's transaction; most changes free nothing anybody waits for)."""
    freed = change.freed
    if freed is None:
        return []
    booking = change.booking
    waiting = await WaitlistEntry.get_pymongo_collection().find_one(
        {"service_id": booking.service_id}, projection={"_id": 1}, session=session
    )
    if waiting is None:
        return []
    job = chain_start(
        freed_by=f"booking:{booking.id}",
        provider_id=str(freed.provider_id),
        service_id=str(booking.service_id),
        start=freed.start,
        now=change.now,
        source="booking",
    )
    return [job]
