"""Moving a booking to another time or provider: the same booking, its history kept.

One transaction gives back the old interval's claims and takes the new one's, so a move onto a
time that overlaps the booking's own (a 60-minute session moved 30 minutes later) never collides
with itself, and a move that collides with another booking leaves it where it was. Calendly
reschedules move bookings here, as `POST /api/bookings/{id}/reschedule` will.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from holdfast.availability.service import (
    bookable,
    calendar_conflict,
    nearest_free,
    offering_provider,
    surroundings,
)
from holdfast.bookings import followups
from holdfast.bookings.guard import Collision, claim, release
from holdfast.bookings.models import SLOT_HOLDING, Booking
from holdfast.bookings.service import (
    ALTERNATIVES,
    SlotTaken,
    check_start,
    placement,
    record,
    utc_start,
)
from holdfast.clock import zone
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind
from holdfast.jobs.models import Job
from holdfast.jobs.service import push_due

# Where a booking is; a move changes these (and the caller's external links) and nothing else.
PLACE = ("provider_id", "start", "end", "occupied_start", "occupied_end")


class BookingNotMovable(DomainError):
    kind, code = ErrorKind.CONFLICT, "booking_not_movable"


class _Changed(Exception):
    """The booking is no longer where it was read: the transaction aborts."""


async def move_booking(
    ctx: Context,
    booking: Booking,
    *,
    start: datetime,
    actor: str,
    provider_id: str | None = None,
    end: datetime | None = None,
    offered_only: bool = True,
    display_tz: str = "UTC",
    external: dict[str, str] | None = None,
    history: dict[str, Any] | None = None,
    calendar_checked: bool = False,
) -> Booking:
    """Move `booking` to `start` (with `provider_id`, by default its own), or raise `SlotTaken`
    with the nearest free alternatives. A booking already there is answered as it is, so a
    retry of a move that did commit finds its own work instead of judging it again. Busy time
    in the provider's own calendar refuses the new time too, unless `calendar_checked` (see
    `book_slot`)."""
    start = utc_start(start)
    if booking.status not in SLOT_HOLDING:
        raise BookingNotMovable("A cancelled booking cannot be moved; please book a new time.")
    now = ctx.now()
    service, offering = await ctx.catalog.service_with_providers(str(booking.service_id))
    offering = bookable(service, offering)
    provider = await offering_provider(offering, provider_id or str(booking.provider_id))
    target: dict[str, Any] = {
        "provider_id": provider.id,
        **placement(service, start, end),
        **(external or {}),
    }
    if _there(booking, target):
        await _resume(ctx, booking)
        return booking
    check_start(ctx, provider, service, start, offered_only=offered_only)
    moved: Booking = booking.model_copy(update={**target, "updated_at": now})
    where = {"_id": booking.id, "status": booking.status, **{f: getattr(booking, f) for f in PLACE}}
    previous: dict[str, Any] = {"previous_start": booking.start, "previous_end": booking.end}
    if provider.id != booking.provider_id:
        previous["previous_provider_id"] = str(booking.provider_id)

    async def work(session: Session) -> list[Job]:
        changed = await Booking.get_pymongo_collection().update_one(
            where, {"$set": {**target, "updated_at": now}}, session=session
        )
        if changed.matched_count == 0:
            raise _Changed
        # Given back before the new units are taken: the two intervals may share units.
        await release(session, booking)
        await claim(session, moved)
        await record(
            session,
            moved,
            action="rescheduled",
            from_status=booking.status,
            actor=actor,
            data={**previous, **(history or {})},
        )
        return await followups.follow(
            session, followups.Change("moved", moved, now, service, before=booking)
        )

    try:
        occupied = (moved.occupied_start, moved.occupied_end)
        if not calendar_checked and await calendar_conflict(moved.provider_id, occupied):
            raise Collision
        jobs = await transact(ctx.mongo, work)
    except (Collision, _Changed) as exc:
        current = await Booking.get(booking.id)
        if current is not None and _there(current, target):
            # Our own commit whose answer was lost (the transaction ran again and found it), or
            # the same move made first by a concurrent retry: the booking is where it should be.
            await _resume(ctx, current)
            return current
        if isinstance(exc, _Changed):
            raise BookingNotMovable(
                "The booking changed while it was being moved; please look at it again."
            ) from None
        around = await surroundings(service, offering, start, now)
        alternatives = await nearest_free(service, offering, str(provider.id), ALTERNATIVES, around)
        raise SlotTaken(alternatives, zone(display_tz)) from None
    push_due(ctx, jobs)
    await _publish(ctx, booking, moved)
    return moved


def _there(booking: Booking, target: dict[str, Any]) -> bool:
    return all(getattr(booking, name) == value for name, value in target.items())


async def _resume(ctx: Context, booking: Booking) -> None:
    """Push the jobs and publish the event of a move that already committed (a job queued
    twice runs once)."""
    push_due(ctx, await followups.waiting(booking))
    await ctx.events.publish(followups.booking_event("booking-updated", booking))


async def _publish(ctx: Context, before: Booking, after: Booking) -> None:
    events = [followups.booking_event("booking-updated", after)]
    if before.provider_id != after.provider_id:  # the old provider's availability changed too
        events.append(followups.booking_event("booking-updated", before))
    await ctx.events.publish(*events)
