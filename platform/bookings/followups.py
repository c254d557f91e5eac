"""What follows from a booking's change, written in that change's transaction.

`bookings` books, moves, cancels and expires; everything that follows from it (messages,
reminders, a meeting cancelled in Calendly, an offer to the waitlist, a calendar event, a
refund) is a durable job some domain schedules by subscribing here. A subscriber gets the
`Change` inside the transaction and returns the jobs it wants (made with `new_job`, not yet
written); they are written together in one round trip. A subscriber may also write in the
session itself (say, stop jobs that no longer apply). Subscribers are listed once, in
`subscribers()`, as job kinds are in `holdfast.jobs.registry.default_registry`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from beanie import PydanticObjectId
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Service
from holdfast.clock import iso_z
from holdfast.db import Session
from holdfast.events import Event
from holdfast.jobs.models import WAITING, Job
from holdfast.jobs.service import cancel_pending, new_job, schedule_all

# held: a new booking holds its time awaiting payment (no confirmation yet) · confirmed: a
# booking now holds its time and is settled (new, or paid) · moved: it holds a new time ·
# cancelled / expired: it gave its time back (an unpaid hold lapses as `expired`).
ChangeKind = Literal["held", "confirmed", "moved", "cancelled", "expired"]
# Where a change came from, so a subscriber does not echo it back there.
Origin = Literal["holdfast", "calendly"]


@dataclass(frozen=True, slots=True)
class Freed:
    """An interval of a provider's time a change gave back."""

    provider_id: PydanticObjectId
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    booking: Booking  # as it is after the change
    now: datetime
    service: Service | None = None  # known on the booking path; subscribers read it otherwise
    before: Booking | None = None  # "moved": where it was
    origin: Origin = "holdfast"
    # False: the client hears of this change together with others (a series' sessions are
    # confirmed once, with its first one, and cancelled together in one notice); reminders and
    # everything else still follow.
    announce: bool = True

    @property
    def freed(self) -> Freed | None:
        """The time this change gave back to the provider, if any."""
        if self.kind in ("cancelled", "expired"):
            gone = self.booking
        elif self.kind == "moved" and self.before is not None:
            gone = self.before
        else:
            return None
        return Freed(gone.provider_id, gone.start, gone.end)


Followup = Callable[[Session, Change], Awaitable[list[Job]]]


def subscribers() -> list[Followup]:
    """Every domain that follows booking changes (imported here, late, as the job registry
    gathers its kinds: the domains import `bookings`, not the other way round)."""
    from holdfast.calendly.followups import cancel_in_calendly
    from holdfast.integrations.google.events import follow_in_google
    from holdfast.integrations.zoom.meetings import follow_in_zoom
    from holdfast.payments.followups import hold_until_paid, refund_when_cancelled
    from holdfast.waitlist.followups import offer_freed

    return [
        notify,
        cancel_in_calendly,
        hold_until_paid,
        refund_when_cancelled,
        follow_in_zoom,
        follow_in_google,
        offer_freed,
    ]


async def follow(session: Session, change: Change, *, pushed: bool = False) -> list[Job]:
    """Run every subscriber in the change's transaction and write the jobs they ask for.
    `pushed`: the caller hands what is due to the queue right after its commit (`push_due`),
    so those jobs are written as promoted (no second write to MongoDB)."""
    return await follow_all(session, [change], pushed=pushed)


async def follow_all(session: Session, changes: list[Change], *, pushed: bool = False) -> list[Job]:
    """`follow` for several changes made in one transaction (a series' occurrences)."""
    wanted: list[Job] = []
    for change in changes:
        for subscriber in subscribers():
            wanted += await subscriber(session, change)
    if not wanted:
        return []
    # One round trip for all of them: this runs inside the booking's transaction, on the
    # success path a client waits for.
    handed_over_at = changes[0].now if pushed else None
    return await schedule_all(session, wanted, handed_over_at=handed_over_at)


def subject(booking: Booking) -> str:
    return f"booking:{booking.id}"


async def notify(session: Session, change: Change) -> list[Job]:
    """The client hears of every change: a confirmation (and a reminder before the start, if
    still ahead) of a new or moved booking, a notice of a cancellation."""
    booking, now = change.booking, change.now
    if change.kind == "held":
        return []  # told once paid, when the booking is confirmed
    if change.kind in ("cancelled", "expired"):
        # Pending reminders stop; both parties hear of it.
        await cancel_pending(session, subject=subject(booking), now=now)
        if not change.announce:
            return []  # told together with the others (a series' sessions cancelled at once)
        notice = new_job(
            kind="notify.cancellation", subject=subject(booking), run_at=now, now=now,
            payload={"booking_id": str(booking.id)}, intended=booking.updated_at,
        )  # fmt: skip
        return [notice]
    # A move is confirmed anew (moves within one second share it, and it reads the booking when
    # it runs). A reminder of the old time is left to find that its start has gone (see
    # `notifications.handlers`): cancelling it here would also stop the reminder of a booking
    # moved back to a time it had before, whose job has the same id.
    intended = booking.created_at if change.kind == "confirmed" else booking.updated_at
    jobs: list[Job] = []
    if change.announce:
        payload = {"booking_id": str(booking.id)}
        if change.kind == "moved" and change.before is not None:
            payload["moved_from"] = iso_z(change.before.start)  # the practice hears of it too
        jobs.append(
            new_job(
                kind="notify.confirmation",
                subject=subject(booking),
                run_at=now,
                now=now,
                payload=payload,
                intended=intended,
            )
        )
    lead = change.service.reminder_minutes_before if change.service else 0
    remind_at = booking.start - timedelta(minutes=lead)
    if lead and remind_at > now:
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
    return jobs


async def waiting(booking: Booking) -> list[Job]:
    """The booking's jobs that may not have reached the queue: what a retry that finds an
    earlier commit pushes for it (that commit's caller may have died before pushing; the queue
    ignores an attempt it already holds). Only read: scheduling again could bring back a job
    that has since run and been cleaned up."""
    found = Job.find({"subject": subject(booking), "state": {"$in": [*WAITING, "promoted"]}})
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
