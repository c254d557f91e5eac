"""The guarded booking path: every booking, from any source, is written and cancelled here
(and moved, in `moves.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.availability.service import (
    OfferedSlot,
    bookable,
    calendar_conflict,
    check_horizon,
    nearest_free,
    offering_provider,
    provider_slots,
    slot_dict,
    surroundings,
)
from holdfast.bookings import followups
from holdfast.bookings.guard import Collision, claim, occupied_span, release, take_over, taken
from holdfast.bookings.models import (
    LONGEST_OCCUPIED,
    SLOT_HOLDING,
    Booking,
    BookingEvent,
    BookingStatus,
)
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import object_id
from holdfast.clock import as_utc, zone
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.jobs.models import Job
from holdfast.jobs.service import push_due
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo.errors import DuplicateKeyError

ALTERNATIVES = 5
# More writes a caller needs in the booking's own transaction (the waitlist's offer moves): it
# gets the session and the booking, may raise to abort, and returns the jobs it wrote (they are
# pushed to the queue after commit with the booking's own).
Within = Callable[[Session, Booking], Awaitable[list[Job]]]
# Where a booking of a prepaid service is held until it is paid online (see holdfast.payments).
PAID_ONLINE = ("web", "admin", "waitlist")


class PaymentsOff(DomainError):
    kind, code = ErrorKind.INVALID, "payments_unavailable"


class SlotTaken(DomainError):
    kind, code = ErrorKind.CONFLICT, "slot_taken"

    def __init__(self, alternatives: list[OfferedSlot], display_tz: ZoneInfo) -> None:
        super().__init__(
            "Sorry, that time has just been taken. Here are the nearest free times.",
            alternatives=[slot_dict(s, display_tz) for s in alternatives],
        )


def utc_start(start: datetime) -> datetime:
    if start.tzinfo is None:
        raise Invalid(
            "start must carry a timezone offset, e.g. 2026-03-02T09:00:00Z.", code="naive_datetime"
        )
    return _stored(start)


def _stored(instant: datetime) -> datetime:
    """UTC to the millisecond, as MongoDB keeps it: what is compared after a read-back (a
    retry finding its own commit, a reminder checking its start) is what was written."""
    return as_utc(instant).replace(microsecond=instant.microsecond // 1000 * 1000)


def check_start(
    ctx: Context, provider: Provider, service: Service, start: datetime, *, offered_only: bool
) -> None:
    """Only a future start within the booking horizon can be booked; through Holdfast's own
    pages, only one the availability page would offer (ignoring other bookings)."""
    now = ctx.now()
    check_horizon(start, now, ctx.settings.booking_horizon_days)
    if start < now:
        raise Invalid(
            "That time is in the past; please choose a future slot.", code="start_in_past"
        )
    if not offered_only:
        return
    offered = provider_slots(
        provider, service, busy=[], now=now, window=(start, start + timedelta(minutes=1))
    )
    if not offered or offered[0].start != start:
        raise Invalid(
            "That start time is not one of the bookable slots for this service and provider.",
            code="not_a_slot",
        )


def placement(
    service: Service, start: datetime, end: datetime | None = None
) -> dict[str, datetime]:
    """Where a booking of `service` at `start` sits: its end (the service's length unless the
    caller knows better, e.g. Calendly's own end) and the interval its buffers occupy."""
    end = _stored(end) if end is not None else start + timedelta(minutes=service.duration_minutes)
    if end <= start:
        raise Invalid("A booking must end after it starts.", code="invalid_interval")
    occupied = occupied_span(
        start,
        end,
        timedelta(minutes=service.buffer_before_minutes),
        timedelta(minutes=service.buffer_after_minutes),
    )
    if occupied[1] - occupied[0] > LONGEST_OCCUPIED:
        raise Invalid(
            "A booking may take at most three days, buffers included.", code="invalid_interval"
        )
    return {"start": start, "end": end, "occupied_start": occupied[0], "occupied_end": occupied[1]}


async def _write_booking(
    session: Session,
    booking: Booking,
    service: Service,
    actor: str,
    now: datetime,
    history: dict[str, Any] | None = None,
    hold: str | None = None,
    within: Within | None = None,
) -> list[Job]:
    if hold is None:
        await claim(session, booking)
    else:  # the time a hold kept for this booking: handed over, nobody can slip in between
        await take_over(session, hold, booking)
    await Booking.get_pymongo_collection().insert_one(
        booking.model_dump(by_alias=True), session=session
    )
    await record(session, booking, action="created", from_status=None, actor=actor, data=history)
    extra = await within(session, booking) if within is not None else []
    kind: followups.ChangeKind = "held" if booking.status == "pending_payment" else "confirmed"
    change = followups.Change(kind, booking, now, service)
    # `book_slot` pushes what is due right after the commit.
    return [*extra, *await followups.follow(session, change, pushed=True)]


async def record(
    session: Session,
    booking: Booking,
    *,
    action: str,
    from_status: BookingStatus | None,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await BookingEvent.get_pymongo_collection().insert_one(
        history_entry(booking, action, from_status, actor, reason, data), session=session
    )


def history_entry(
    booking: Booking,
    action: str,
    from_status: BookingStatus | None,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit-trail document of a change to `booking`, as it is after the change."""
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
    entry: dict[str, Any] = event.model_dump(by_alias=True, exclude={"id"})
    return entry


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
    end: datetime | None = None,
    external: dict[str, str] | None = None,
    history: dict[str, Any] | None = None,
    hold: str | None = None,
    within: Within | None = None,
    calendar_checked: bool = False,
    pay_later: bool = False,
) -> Booking:
    """Book `start` for the user, or raise `SlotTaken` with the nearest free alternatives.

    The database decides collisions: the claim units are inserted in the booking's transaction,
    so two racing writers cannot both commit, whatever they checked before. `hold` names the
    hold (see `guard.hold`) whose time this booking takes over (`HoldGone` if it has ended);
    `within` adds the caller's own writes to the transaction.
    Busy time in the provider's own calendar refuses the time too, unless `calendar_checked`:
    another scheduler that reads that calendar itself (Calendly) chose it.
    """
    start = utc_start(start)
    # A retry of a request that did commit (its answer lost, a job run again) gets what it made,
    # before anything is judged again: by now the start may be past or the service archived.
    if request_key and (earlier := await Booking.find_one(Booking.request_key == request_key)):
        await _resume(ctx, earlier)
        return earlier
    now = ctx.now()
    service, offering = await ctx.catalog.service_with_providers(service_id)
    offering = bookable(service, offering)
    provider = await offering_provider(offering, provider_id)
    check_start(ctx, provider, service, start, offered_only=offered_only)
    # Paid online through our own pages (the booking page, an admin's booking, a waitlist
    # claim), unless the practice lets it be paid later; one made elsewhere (Calendly) is
    # paid there.
    priced = service.price is not None and service.price.amount_cents > 0
    prepaid = service.prepay and priced and source in PAID_ONLINE and not pay_later
    if prepaid and not ctx.settings.stripe_secret_key:
        raise PaymentsOff(
            f"{service.name} is paid when booked, and online payment is not available at the "
            "moment; please contact the practice to book it."
        )
    booking = Booking(
        id=PydanticObjectId(),
        user_id=user_id,
        provider_id=provider.id,
        service_id=service.id,
        **placement(service, start, end),
        status="pending_payment" if prepaid else "confirmed",
        hold_until=now + timedelta(minutes=ctx.settings.payment_hold_minutes) if prepaid else None,
        source=source,
        request_key=request_key,
        created_at=now,
        updated_at=now,
        **(external or {}),
    )
    await ctx.indexes.require(
        *booking.unique_indexes(), refusing="Booking", because="a retried booking is made once"
    )
    tries = 0

    async def write(session: Session) -> list[Job]:
        nonlocal tries
        tries += 1
        return await _write_booking(
            session, booking, service, actor, now, history, hold=hold, within=within
        )

    # A look at the claim units the booking needs (point reads of `_id`s) sends a time that is
    # already taken to the alternatives without a doomed transaction; the claim insert inside
    # the transaction still decides.
    try:
        looks = [taken(booking, hold)]
        if not calendar_checked:
            occupied = (booking.occupied_start, booking.occupied_end)
            looks.append(calendar_conflict(booking.provider_id, occupied))
        if any(await asyncio.gather(*looks)):
            raise Collision
        jobs = await transact(ctx.mongo, write)
    except (Collision, DuplicateKeyError) as exc:
        # Our own earlier commit is not a collision: a retried transaction whose first commit
        # did land, or the same Idempotency-Key racing itself. Only those two can be ours.
        ours = tries > 1 or request_key is not None
        if ours and (existing := await _existing(booking)):
            await _resume(ctx, existing)
            return existing
        if isinstance(exc, DuplicateKeyError):
            raise
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


async def _resume(ctx: Context, booking: Booking) -> None:
    """An earlier attempt committed this booking but may not have lived to push its jobs and
    publish its event: do both now (a job queued twice runs once; an event twice only
    invalidates twice)."""
    push_due(ctx, await followups.waiting(booking))
    await ctx.events.publish(followups.booking_event("booking-created", booking))


async def get_booking(booking_id: str, viewer: User) -> Booking:
    """A booking its owner or an admin may see; anyone else is told it does not exist."""
    booking = await Booking.get(object_id(booking_id, "booking"))
    if booking is None or (viewer.role != "admin" and booking.user_id != viewer.id):
        raise NotFound(f"There is no booking with id {booking_id}.", code="booking_not_found")
    return booking


# Bounds the upcoming part on the `start` index; a booking longer than this that is still on is
# listed with the past.
_LONGEST_BOOKING = timedelta(days=1)


async def list_bookings(
    viewer: User, page: PageRequest, *, now: datetime, when: str | None = None
) -> Page[Booking]:
    """The viewer's bookings (an admin's: everyone's), upcoming first: those not over yet,
    soonest first, then the past, most recent first; `when` keeps one of the two. The instant
    that splits them is fixed by the first page, so paging on never repeats or skips one."""
    everyone = viewer.role == "admin"
    mine: dict[str, Any] = {} if everyone else {"user_id": viewer.id}
    listing = f"bookings:{'all' if everyone else viewer.id}:{when or 'all'}"
    position = page.position(listing)
    split = position.pinned if position else now
    upcoming = {"start": {"$gt": split - _LONGEST_BOOKING}, "end": {"$gt": split}}
    soonest = (("start", 1), ("_id", 1))
    # Upcoming in two parts read one after the other: those on at the split (started before
    # it), then those starting after it. The second is a plain range of the list's index read
    # in list order, so a page stops after its rows; as one query MongoDB fetched and sorted
    # every upcoming booking (its ends bound the look-back only in an index without the id).
    parts = {
        "upcoming": [
            Segment(
                {**mine, **upcoming, "start": {"$gt": split - _LONGEST_BOOKING, "$lt": split}},
                soonest,
            ),
            Segment({**mine, "start": {"$gte": split}}, soonest),
        ],
        "past": [Segment({**mine, "$nor": [upcoming]}, (("start", -1), ("_id", -1)))],
    }
    chosen = parts[when] if when else [*parts["upcoming"], *parts["past"]]
    return await read_page(Booking, chosen, page, listing=listing, pinned=split)


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
    from_calendly: bool = False,
) -> bool:
    """Cancel on behalf of `actor` (a user id, or a system such as "calendly"); True if this
    call made the change. A booking made in Calendly is cancelled there too, by a job written
    in this transaction, unless the cancellation came from Calendly."""
    if booking.status not in SLOT_HOLDING:
        return False  # cancelled already, or a hold that lapsed: it keeps no time to give back
    origin: followups.Origin = "calendly" if from_calendly else "holdfast"

    async def work(session: Session) -> list[Job] | None:
        return await cancel_within(
            session, booking, now=ctx.now(), actor=actor, reason=reason, data=data, origin=origin
        )

    jobs = await transact(ctx.mongo, work)
    if jobs is None:
        return False  # someone else cancelled it first: a repeat cancel changes nothing
    push_due(ctx, jobs)
    booking.status, booking.cancel_reason = "cancelled", reason
    await ctx.events.publish(followups.booking_event("booking-cancelled", booking))
    return True


async def cancel_within(
    session: Session,
    booking: Booking,
    *,
    now: datetime,
    actor: str,
    reason: str | None,
    data: dict[str, Any] | None = None,
    origin: followups.Origin = "holdfast",
    announce: bool = True,
) -> list[Job] | None:
    """Cancel `booking` (as read, still holding time) inside `session` and free its time: the
    jobs that follow, or None if it no longer held time (someone else cancelled it first).
    Several go in one transaction when the practice cancels a series' sessions together
    (`announce` False: the client hears of them in one notice)."""
    if booking.status not in SLOT_HOLDING:
        return None
    changed = await Booking.get_pymongo_collection().update_one(
        {"_id": booking.id, "status": booking.status},
        {"$set": {"status": "cancelled", "cancel_reason": reason, "updated_at": now}},
        session=session,
    )
    if changed.modified_count == 0:
        return None
    await release(session, booking)
    # A copy: the transaction may run again, and must find the booking as it was read.
    gone = booking.model_copy(
        update={"status": "cancelled", "cancel_reason": reason, "updated_at": now}
    )
    await record(
        session,
        gone,
        action="cancelled",
        from_status=booking.status,
        actor=actor,
        reason=reason,
        data=data,
    )
    change = followups.Change("cancelled", gone, now, origin=origin, announce=announce)
    return await followups.follow(session, change)


async def booking_history(booking_id: str, viewer: User) -> list[BookingEvent]:
    booking = await get_booking(booking_id, viewer)
    return (
        await BookingEvent.find(BookingEvent.booking_id == booking.id).sort("at", "_id").to_list()
    )
