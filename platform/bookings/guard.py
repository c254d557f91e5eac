"""The no-overlap guarantee: which claim units a booking occupies, and taking or giving them
back inside the booking's own transaction.

A booking claims every five-minute unit its buffered interval touches, rounding outwards, so two
bookings whose intervals intersect always share at least one claim `_id`. A hold (a waitlist
offer's lock on a freed slot) takes the same units, so while it lasts no booking can; the booking
that claims the hold gives its units back and takes its own in one transaction, so nobody can
slip in between.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from beanie import PydanticObjectId
from holdfast.bookings.models import Booking, SlotClaim, SlotHold
from holdfast.db import Session
from pymongo.errors import BulkWriteError

UNIT = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Collision(Exception):
    """Raised inside the transaction so it aborts; the caller turns it into `SlotTaken`."""


def occupied_span(
    start: datetime, end: datetime, before: timedelta, after: timedelta
) -> tuple[datetime, datetime]:
    """The buffered interval, widened to whole claim units."""
    low = start - before
    high = end + after
    low_units = (low - _EPOCH) // UNIT
    high_units = -((_EPOCH - high) // UNIT)  # ceiling division
    return _EPOCH + low_units * UNIT, _EPOCH + high_units * UNIT


def claim_ids(provider_id: str, occupied_start: datetime, occupied_end: datetime) -> list[str]:
    first = (occupied_start - _EPOCH) // UNIT
    last = -((_EPOCH - occupied_end) // UNIT)
    return [f"{provider_id}:{unit}" for unit in range(first, last)]


def _claims(booking: Booking) -> list[str]:
    return claim_ids(str(booking.provider_id), booking.occupied_start, booking.occupied_end)


async def claim(session: Session, booking: Booking) -> None:
    """Take the booking's units, or raise `Collision` when another booking holds one."""
    await claim_all(session, [booking])


async def claim_all(session: Session, bookings: list[Booking]) -> None:
    """Take every unit of every one of `bookings` in one write (a series' occurrences), or
    raise `Collision` when another booking holds one of them."""
    await _take_units(
        session, [{"_id": c, "booking_id": b.id} for b in bookings for c in _claims(b)]
    )


async def _take_units(session: Session, units: list[dict[str, object]]) -> None:
    """Insert claim units; `Collision` when any of them is someone else's already."""
    try:
        await SlotClaim.get_pymongo_collection().insert_many(units, session=session)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if errors and errors[0].get("code") == 11000:
            raise Collision from None
        raise


async def taken(booking: Booking, hold: str | None = None) -> bool:
    """Whether another booking (or a hold other than `hold`, the one this booking claims) holds
    one of this booking's units right now (advisory: only the claim insert in a transaction
    decides)."""
    return bool(await held([booking], hold))


async def release(session: Session, booking: Booking) -> None:
    """Give back the units this booking holds (only its own: the filter names the booking)."""
    await SlotClaim.get_pymongo_collection().delete_many(
        {"_id": {"$in": _claims(booking)}, "booking_id": booking.id}, session=session
    )


class HoldGone(Exception):
    """The hold a booking was to take over no longer exists (released, or taken over already);
    raised inside the transaction so it aborts."""


async def hold(session: Session, held: SlotHold) -> None:
    """Hold `held`'s interval: its units, or `Collision` when a booking or another hold has one.
    Written once: a hold already there under this id is left as it is."""
    if await SlotHold.get_pymongo_collection().find_one(
        {"_id": held.id}, projection={"_id": 1}, session=session
    ):
        return
    units = claim_ids(str(held.provider_id), held.occupied_start, held.occupied_end)
    await _take_units(session, [{"_id": c, "booking_id": None, "hold_id": held.id} for c in units])
    await SlotHold.get_pymongo_collection().insert_one(
        held.model_dump(by_alias=True), session=session
    )


async def release_hold(session: Session, hold_id: str) -> bool:
    """Give back a hold's units; False if there was no such hold (released already)."""
    found = await SlotHold.get_pymongo_collection().find_one_and_delete(
        {"_id": hold_id}, session=session
    )
    if found is None:
        return False
    held = SlotHold.model_validate(found)
    units = claim_ids(str(held.provider_id), held.occupied_start, held.occupied_end)
    await SlotClaim.get_pymongo_collection().delete_many(
        {"_id": {"$in": units}, "hold_id": hold_id}, session=session
    )
    return True


async def take_over(session: Session, hold_id: str, booking: Booking) -> None:
    """The booking takes the time its hold kept: the hold's units are given back and the
    booking's taken in this one transaction (`HoldGone` if the hold has ended)."""
    if not await release_hold(session, hold_id):
        raise HoldGone(hold_id)
    await claim(session, booking)


async def held(bookings: list[Booking], hold: str | None = None) -> set[PydanticObjectId | None]:
    """Which of `bookings` want a unit that another booking, or a hold other than `hold` (the
    one a booking takes over), has now: one read (advisory, as above)."""
    wanted = {c: b.id for b in bookings for c in _claims(b)}
    found = SlotClaim.get_pymongo_collection().find(
        {"_id": {"$in": list(wanted)}}, projection={"_id": 1, "booking_id": 1, "hold_id": 1}
    )
    return {
        wanted[row["_id"]]
        async for row in found
        if row["booking_id"] != wanted[row["_id"]] and (hold is None or row.get("hold_id") != hold)
    }


def unit_of(instant: datetime) -> int:
    """The number of the claim unit `instant` falls in."""
    return (instant - _EPOCH) // UNIT
