"""The guarded booking path: every booking, from any source, is written here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.availability.service import (
    OfferedSlot,
    check_horizon,
    nearest_free,
    offering_provider,
    provider_slots,
    slot_dict,
    surroundings,
)
from holdfast.bookings import followups
from holdfast.bookings.guard import claim_ids, occupied_span
from holdfast.bookings.models import Booking, BookingEvent, BookingStatus, SlotClaim
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import object_id
from holdfast.clock import as_utc, zone
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.jobs.models import Job
from holdfast.jobs.service import push_due
from pymongo.errors import BulkWriteError, DuplicateKeyError

ALTERNATIVES = 5


class SlotTaken(DomainError):
    kind, code = ErrorKind.CONFLICT, "slot_taken"

    def __init__(self, alternatives: list[OfferedSlot], display_tz: ZoneInfo) -> None:
        super().__init__(
            "Sorry, that time has just been taken. Here are the nearest free times.",
            alternatives=[slot_dict(s, display_tz) for s in alternatives],
        )


class _Collision(Exception):
    """Raised inside the transaction so it aborts; turned into `SlotTaken` outside."""


def _is_duplicate(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and errors[0].get("code") == 11000


def _check_offered(
    provider: Provider, service: Service, start: datetime, now: datetime, horizon_days: int
) -> None:
    """Only a start the availability page would offer (ignoring other bookings) can be booked."""
    check_horizon(start, now, horizon_days)
    if start < now:
        raise Invalid(
            "That time is in the past; please choose a future slot.", code="start_in_past"
        )
    offered = provider_slots(
        provider, service, busy=[], now=now, window=(start, start + timedelta(minutes=1))
    )
    if not offered or offered[0].start != start:
        raise Invalid(
            "That start time is not one of the bookable slots for this service and provider.",
            code="not_a_slot",
        )


async def _write_booking(
    session: Session,
    booking: Booking,
    service: Service,
    actor: str,
    now: datetime,
    history: dict[str, Any] | None = None,
) -> list[Job]:
    claims = claim_ids(str(booking.provider_id), booking.occupied_start, booking.occupied_end)
    try:
        await SlotClaim.get_pymongo_collection().insert_many(
            [{"_id": c, "booking_id": booking.id} for c in claims], session=session
        )
    except BulkWriteError as exc:
        if _is_duplicate(exc):
            raise _Collision from None
        raise
    await Booking.get_pymongo_collection().insert_one(
        booking.model_dump(by_alias=True), session=session
    )
    await _record(session, booking, action="created", from_status=None, actor=actor, data=history)
    return await followups.on_confirmed(session, booking, service, now)


async def _record(
    session: Session,
    booking: Booking,
    *,
    action: str,
    from_status: BookingStatus | None,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    event = BookingEvent(
        booking_id=booking.id,
        at=booking.updated_at,
        action=action,
        from_status=from_status,
        to_status=booking.status,
        actor=actor,
        reason=reason,
        data={"source": booking.source, "start": booking.start, "end": booking.end, **(data or {})},
    )
    await BookingEvent.get_pymongo_collection().insert_one(
        event.model_dump(by_alias=True, exclude={"id"}), session=session
    )


async def book_slot(
    ctx: Context,
    *,
    user_id: PydanticObjectId,
    service_id: str,
    provider_id: str,
    start: datetime,
    actor: str,
    source: str = "web",
    request_key: str | None = None,
    display_tz: str = "UTC",
    offered_only: bool = True,
    external: dict[str, str] | None = None,
    history: dict[str, Any] | None = None,
) -> Booking:
    """Book `start` for the user, or raise `SlotTaken` with the nearest free alternatives.

    The database decides collisions: the claim units are inserted in the booking's transaction,
    so two racing writers cannot both commit, whatever they checked before.
    """
    if start.tzinfo is None:
        raise Invalid(
            "start must carry a timezone offset, e.g. 2026-03-02T09:00:00Z.", code="naive_datetime"
        )
    start = as_utc(start)
    now = ctx.now()
    service, offering = await ctx.catalog.service_with_providers(service_id)
    provider = await offering_provider(offering, provider_id)
    if offered_only:
        _check_offered(provider, service, start, now, ctx.settings.booking_horizon_days)
    elif start < now:
        raise Invalid("That time is in the past.", code="start_in_past")
    end = start + timedelta(minutes=service.duration_minutes)
    occupied = occupied_span(
        start,
        end,
        timedelta(minutes=service.buffer_before_minutes),
        timedelta(minutes=service.buffer_after_minutes),
    )
    booking = Booking(
        id=PydanticObjectId(),
        user_id=user_id,
        provider_id=provider.id,
        service_id=service.id,
        start=start,
        end=end,
        occupied_start=occupied[0],
        occupied_end=occupied[1],
        status="confirmed",
        source=source,
        request_key=request_key,
        created_at=now,
        updated_at=now,
        **(external or {}),
    )
    if request_key and (earlier := await Booking.find_one(Booking.request_key == request_key)):
        return earlier
    tries = 0

    async def write(session: Session) -> list[Job]:
        nonlocal tries
        tries += 1
        return await _write_booking(session, booking, service, actor, now, history)

    # One read of the bookings around `start` answers both whether it still looks free and,
    # if not, the nearest alternatives; most collisions end here, without a transaction.
    around = await surroundings(service, offering, start, now)
    try:
        if not around.is_free(provider.id, booking.occupied_start, booking.occupied_end):  # type: ignore[arg-type]
            raise _Collision
        jobs = await transact(ctx.mongo, write)
    except (_Collision, DuplicateKeyError) as exc:
        # Our own earlier commit is not a collision: a retried transaction whose first commit
        # did land, or the same Idempotency-Key racing itself. Only those two can be ours.
        ours = tries > 1 or request_key is not None
        if ours and (existing := await _existing(booking)):
            return existing
        if isinstance(exc, DuplicateKeyError):
            raise
        if tries:  # the transaction lost a race: what was read before it is out of date
            around = await surroundings(service, offering, start, now)
        alternatives = await nearest_free(service, offering, str(provider.id), ALTERNATIVES, around)
        raise SlotTaken(alternatives, zone(display_tz)) from None
    push_due(ctx, jobs)
    await ctx.events.publish(followups.booking_event("booking-created", booking))
    return booking


async def _existing(booking: Booking) -> Booking | None:
    found = await Booking.get(booking.id)
    if found is None and booking.request_key:
        found = await Booking.find_one(Booking.request_key == booking.request_key)
    return found


async def get_booking(booking_id: str, viewer: User) -> Booking:
    """A booking its owner or an admin may see; anyone else is told it does not exist."""
    booking = await Booking.get(object_id(booking_id, "booking"))
    if booking is None or (viewer.role != "admin" and booking.user_id != viewer.id):
        raise NotFound(f"There is no booking with id {booking_id}.", code="booking_not_found")
    return booking


async def list_bookings(viewer: User, *, limit: int = 200) -> list[Booking]:
    query: dict[str, Any] = {} if viewer.role == "admin" else {"user_id": viewer.id}
    return await Booking.find(query).sort("start", "_id").limit(limit).to_list()


async def cancel_booking(
    ctx: Context, booking_id: str, viewer: User, reason: str | None
) -> Booking:
    """Cancel and free the interval in one transaction; cancelling again changes nothing."""
    booking = await get_booking(booking_id, viewer)
    await cancel_as(ctx, booking, actor=str(viewer.id), reason=reason)
    return await get_booking(booking_id, viewer)


async def cancel_as(
    ctx: Context,
    booking: Booking,
    *,
    actor: str,
    reason: str | None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Cancel on behalf of `actor` (a user id, or a system such as "calendly"); True if this
    call made the change."""
    if booking.status == "cancelled":
        return False
    previous = booking.status

    async def work(session: Session) -> list[Job]:
        now = ctx.now()
        changed = await Booking.get_pymongo_collection().update_one(
            {"_id": booking.id, "status": previous},
            {"$set": {"status": "cancelled", "cancel_reason": reason, "updated_at": now}},
            session=session,
        )
        if changed.modified_count == 0:
            return []  # someone else cancelled it first
        claims = claim_ids(str(booking.provider_id), booking.occupied_start, booking.occupied_end)
        await SlotClaim.get_pymongo_collection().delete_many(
            {"_id": {"$in": claims}, "booking_id": booking.id}, session=session
        )
        booking.status, booking.cancel_reason, booking.updated_at = "cancelled", reason, now
        await _record(
            session,
            booking,
            action="cancelled",
            from_status=previous,
            actor=actor,
            reason=reason,
            data=data,
        )
        return await followups.on_cancelled(session, booking, now)

    jobs = await transact(ctx.mongo, work)
    push_due(ctx, jobs)
    if jobs:  # this call made the change (a repeat cancel is a no-op)
        await ctx.events.publish(followups.booking_event("booking-cancelled", booking))
    return bool(jobs)


async def booking_history(booking_id: str, viewer: User) -> list[BookingEvent]:
    booking = await get_booking(booking_id, viewer)
    return (
        await BookingEvent.find(BookingEvent.booking_id == booking.id).sort("at", "_id").to_list()
    )
