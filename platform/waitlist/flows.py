"""A freed slot's chain: open it, offer it to the next people, and claim, decline or expire
an offer. Each flow takes ids, reloads what it needs and is safe to run twice; a job handler
calls one in one line.

The offer is the lock, and MongoDB holds it: an offer is written in one transaction with one of
its opening's seats (`OfferSeat`, unique `_id`s: at most `batch_size` active offers, whatever
races) and the opening's hold on the slot's claim units (`guard.hold`: nobody else can book the
time while it lasts). The hold is handed to the booking that claims an offer, or given back when
the chain ends (exhausted, too late), and the slot returns to public availability.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from beanie import PydanticObjectId
from holdfast.bookings import guard
from holdfast.bookings.models import Booking, SlotHold
from holdfast.bookings.service import SlotTaken, book_slot, placement
from holdfast.catalog.models import Service
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.events import Event
from holdfast.jobs.models import Job
from holdfast.jobs.service import cancel_pending, new_job, push_due, schedule_all
from holdfast.waitlist.models import Offer, OfferSeat, Opening, OpeningStatus, WaitlistEntry
from holdfast.waitlist.service import busy_then, get_offer, gone, in_line
from holdfast.waitlist.states import ACTIVE, OfferState, move
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

# How often `offer_next` looks again when a concurrent run took the seat it was filling.
ROUNDS = 5


class _SeatTaken(Exception):
    """Another run filled this seat first (aborts the offer's transaction)."""


class _AlreadyOffered(Exception):
    """This person was offered this opening before (aborts the offer's transaction)."""


class _OfferLost(Exception):
    """The offer moved on (expired, superseded) while its claim was being written."""


def hold_id(opening_id: str) -> str:
    return f"waitlist:{opening_id}"


def _active() -> dict[str, Any]:
    return {"$in": [str(s) for s in ACTIVE]}


async def open_slot(
    ctx: Context,
    *,
    opening_id: str,
    provider_id: str,
    service_id: str,
    start: datetime,
    freed_at: datetime,
    source: str,
) -> None:
    """Start the chain for a freed slot: once per opening (its id is fixed by what was freed,
    so a cancellation delivered five times, or by two paths, is one chain)."""
    service = await Service.get(PydanticObjectId(service_id))
    if service is None or not service.waitlist.enabled:
        return
    now = ctx.now()
    opening = Opening(
        id=opening_id,
        provider_id=PydanticObjectId(provider_id),
        service_id=service.id,
        start=start,
        end=start + timedelta(minutes=service.duration_minutes),
        freed_at=freed_at,
        source=source,
        price_cents=service.price.amount_cents if service.price else 0,
        currency=service.price.currency if service.price else None,
        created_at=now,
    )
    fields = opening.model_dump(by_alias=True, exclude={"id"})
    stored = await Opening.get_pymongo_collection().find_one_and_update(
        {"_id": opening_id}, {"$setOnInsert": fields}, upsert=True,
        return_document=ReturnDocument.AFTER,
    )  # fmt: skip
    # The chain's first step, on what was just read and written (one round trip fewer each).
    await _fill(ctx, opening_id, first=(Opening.model_validate(stored), service))


def _too_late(opening: Opening, service: Service, now: datetime) -> bool:
    """An opening is offered only while it is at least the service's minimum notice away."""
    return opening.start - timedelta(minutes=service.min_notice_minutes) <= now


async def offer_next(ctx: Context, *, opening_id: str) -> None:
    """Fill the opening's free seats with the next eligible people; close the chain when there
    is nobody left, or it is too close to the start."""
    await _fill(ctx, opening_id)


async def _fill(
    ctx: Context, opening_id: str, first: tuple[Opening, Service | None] | None = None
) -> None:
    """`offer_next`; its first round on `first` (the opening and its service) if given."""
    for _ in range(ROUNDS):
        if first is not None:
            (opening, service), first = first, None
        else:
            found = await Opening.get(opening_id)
            if found is None:
                return
            opening, service = found, await Service.get(found.service_id)
        if opening.status != "open":
            return
        now = ctx.now()
        if service is None or not service.waitlist.enabled or _too_late(opening, service, now):
            await _close(ctx, opening, "lapsed")
            return
        offers = await Offer.find({"opening_id": opening_id}).to_list()
        active = [offer for offer in offers if offer.state in ACTIVE]
        taken = {offer.seat for offer in active}
        seats = [n for n in range(service.waitlist.seats) if n not in taken]
        if not seats:
            return
        offered = {offer.user_id for offer in offers}
        made = await _offer_seats(ctx, opening, service, seats, offered, now)
        if made == "lost":
            await _close(ctx, opening, "lost")
            return
        if made == "raced":
            continue
        if made == 0 and not active:
            await _close(ctx, opening, "exhausted")
        return


async def _offer_seats(
    ctx: Context,
    opening: Opening,
    service: Service,
    seats: list[int],
    offered: set[PydanticObjectId],
    now: datetime,
) -> int | Literal["lost", "raced"]:
    """Offer one seat each to the next people in line who were not `offered` this opening
    before; how many were offered."""
    made = 0
    async for entry in in_line(opening):
        if made == len(seats):
            break
        if entry.user_id in offered:
            continue  # nobody is offered one opening twice (a second entry of theirs, say)
        offer_id = f"{opening.id}:{entry.user_id}"
        if await busy_then(entry.user_id, opening.start, opening.end):
            continue  # booked elsewhere meanwhile
        try:
            await _make_offer(ctx, opening, service, entry, offer_id, seats[made], now)
        except guard.Collision:
            return "lost"  # booked by someone else before the hold was taken
        except _SeatTaken:
            return "raced"
        except _AlreadyOffered:  # a concurrent run offered them first
            continue
        offered.add(entry.user_id)
        made += 1
    return made


async def _make_offer(
    ctx: Context,
    opening: Opening,
    service: Service,
    entry: WaitlistEntry,
    offer_id: str,
    seat: int,
    now: datetime,
) -> None:
    expires_at = min(now + timedelta(minutes=service.waitlist.offer_minutes), opening.start)
    offer = Offer(
        id=offer_id,
        opening_id=opening.id,
        entry_id=entry.id,
        user_id=entry.user_id,
        service_id=opening.service_id,
        provider_id=opening.provider_id,
        start=opening.start,
        end=opening.end,
        seat=seat,
        created_at=now,
        expires_at=expires_at,
        updated_at=now,
    )
    where = placement(service, opening.start)
    held = SlotHold(
        id=hold_id(opening.id),
        provider_id=opening.provider_id,
        start=opening.start,
        end=opening.end,
        occupied_start=where["occupied_start"],
        occupied_end=where["occupied_end"],
        created_at=now,
    )
    subject = f"offer:{offer_id}"
    jobs = [
        new_job(kind="waitlist.notify", subject=subject, run_at=now, now=now,
                payload={"offer_id": offer_id}),
        new_job(kind="waitlist.expire", subject=subject, run_at=expires_at, now=now,
                payload={"offer_id": offer_id}),
    ]  # fmt: skip

    async def work(session: Session) -> list[Job]:
        try:
            await Offer.get_pymongo_collection().insert_one(
                offer.model_dump(by_alias=True), session=session
            )
        except DuplicateKeyError:
            raise _AlreadyOffered from None
        try:
            await OfferSeat.get_pymongo_collection().insert_one(
                {"_id": f"{opening.id}:{seat}", "offer_id": offer_id}, session=session
            )
        except DuplicateKeyError:
            raise _SeatTaken from None
        await guard.hold(session, held)  # once per opening: later offers find it there
        # The cancellation-to-offer latency is counted from this (see `stats`), once per opening.
        await Opening.get_pymongo_collection().update_one(
            {"_id": opening.id, "first_offer_at": None},
            {"$set": {"first_offer_at": now}},
            session=session,
        )
        return await schedule_all(session, jobs)

    push_due(ctx, await transact(ctx.mongo, work))
    await ctx.events.publish(Event("availability-changed", {"provider_id": str(offer.provider_id)}))


async def _end_offer(
    session: Session,
    offer_id: str,
    to: OfferState,
    now: datetime,
    *,
    where: dict[str, Any] | None = None,
    also: dict[str, Any] | None = None,
) -> bool:
    """Move an active offer to `to` (as `states.move`), give back its seat and stop its jobs;
    False if it had moved on already."""
    if await move(session, offer_id, to, now, where=where, also=also) is None:
        return False
    await OfferSeat.get_pymongo_collection().delete_one({"offer_id": offer_id}, session=session)
    await cancel_pending(session, subject=f"offer:{offer_id}", now=now)
    return True


async def _supersede_active(session: Session, opening_id: str, now: datetime) -> None:
    """The opening's offers still active are superseded (it was filled, or its chain ended)."""
    async for offer in Offer.find({"opening_id": opening_id, "state": _active()}, session=session):
        await _end_offer(session, offer.id, OfferState.SUPERSEDED, now)


async def _close(ctx: Context, opening: Opening, status: OpeningStatus) -> None:
    """End the chain: its offers still open are superseded and the slot goes back to public
    availability."""
    now = ctx.now()

    async def work(session: Session) -> bool:
        closed = await Opening.get_pymongo_collection().update_one(
            {"_id": opening.id, "status": "open"},
            {"$set": {"status": status, "closed_at": now}},
            session=session,
        )
        if closed.modified_count == 0:
            return False
        await _supersede_active(session, opening.id, now)
        await guard.release_hold(session, hold_id(opening.id))
        return True

    if await transact(ctx.mongo, work):
        provider = str(opening.provider_id)
        await ctx.events.publish(Event("availability-changed", {"provider_id": provider}))


def _next_job(offer: Offer, now: datetime) -> Job:
    """The chain goes on after this offer ended (one per offer: a job id of its own)."""
    return new_job(
        kind="waitlist.next",
        subject=f"offer:{offer.id}",
        run_at=now,
        now=now,
        payload={"opening_id": offer.opening_id},
    )


async def view_offer(ctx: Context, *, offer_id: str) -> Offer:
    """The offer as its person sees it (active, or accepted: their booking); the first look
    marks it viewed. `OfferGone` once it has expired, been declined or been superseded."""
    offer = await get_offer(offer_id)
    now = ctx.now()
    if offer.state not in ACTIVE and offer.state != OfferState.ACCEPTED:
        raise gone(offer.state)
    # Past its expiry it is gone, even if its expiry job has not run yet.
    if offer.state in ACTIVE and now >= offer.expires_at:
        raise gone(OfferState.EXPIRED)
    if offer.state == OfferState.SENT and await move(None, offer_id, OfferState.VIEWED, now):
        offer = await get_offer(offer_id)
    return offer


async def claim_offer(ctx: Context, *, offer_id: str) -> Booking:
    """Book the offered slot for its person, through the guarded booking path, taking over the
    opening's hold; the other offers of the slot are superseded and the entry is removed, in
    the booking's own transaction. A second click gets the same booking."""
    offer = await get_offer(offer_id)
    now = ctx.now()
    if offer.state == OfferState.ACCEPTED:
        return await _claimed(offer)
    if offer.state not in ACTIVE:
        raise gone(offer.state)
    if now >= offer.expires_at:
        raise gone(OfferState.EXPIRED)

    async def accept(session: Session, booking: Booking) -> list[Job]:
        if not await _end_offer(
            session, offer.id, OfferState.ACCEPTED, now,
            where={"expires_at": {"$gt": now}}, also={"booking_id": booking.id},
        ):  # fmt: skip
            raise _OfferLost
        await _supersede_active(session, offer.opening_id, now)  # this one is accepted already
        await Opening.get_pymongo_collection().update_one(
            {"_id": offer.opening_id},
            {"$set": {"status": "filled", "filled_at": now, "closed_at": now,
                      "booking_id": booking.id}},
            session=session,
        )  # fmt: skip
        await WaitlistEntry.get_pymongo_collection().delete_one(
            {"_id": offer.entry_id}, session=session
        )
        return []

    try:
        return await book_slot(
            ctx,
            user_id=offer.user_id,
            service_id=str(offer.service_id),
            provider_id=str(offer.provider_id),
            start=offer.start,
            actor=str(offer.user_id),
            source="waitlist",
            request_key=f"offer:{offer.id}",
            offered_only=False,  # the opening was a real booking's time, checked when offered
            history={"offer_id": offer.id},
            hold=hold_id(offer.opening_id),
            within=accept,
        )
    except (_OfferLost, guard.HoldGone, SlotTaken) as exc:
        # A losing claim that looks after the winner committed finds the winner's booking on
        # the time (SlotTaken), not the hold: it too was just taken, the offer superseded.
        fresh = await get_offer(offer_id)
        if fresh.state == OfferState.ACCEPTED:
            return await _claimed(fresh)
        if fresh.state in ACTIVE and isinstance(exc, SlotTaken):
            raise
        raise gone(fresh.state) from None


async def _claimed(offer: Offer) -> Booking:
    booking = await Booking.get(offer.booking_id) if offer.booking_id else None
    if booking is None:
        raise gone(offer.state)
    return booking


async def decline_offer(ctx: Context, *, offer_id: str) -> Offer:
    """The person says no: the seat goes to the next person (a durable job written with the
    move). Declining again changes nothing."""
    offer = await get_offer(offer_id)
    if offer.state == OfferState.DECLINED:
        return offer
    if offer.state not in ACTIVE:
        raise gone(offer.state)
    now = ctx.now()

    async def work(session: Session) -> list[Job] | None:
        if not await _end_offer(session, offer.id, OfferState.DECLINED, now):
            return None
        return await schedule_all(session, [_next_job(offer, now)])

    jobs = await transact(ctx.mongo, work)
    fresh = await get_offer(offer_id)
    if jobs is None and fresh.state != OfferState.DECLINED:
        raise gone(fresh.state)
    push_due(ctx, jobs or [])
    return fresh


async def expire_offer(ctx: Context, *, offer_id: str) -> None:
    """At the offer's expiry: the seat goes to the next person. Run again, it only looks for
    the next person again (which finds the seat filled)."""
    offer = await Offer.get(offer_id)
    if offer is None:
        return
    now = ctx.now()
    if offer.state in ACTIVE and now >= offer.expires_at:

        async def work(session: Session) -> bool:
            return await _end_offer(session, offer.id, OfferState.EXPIRED, now)

        await transact(ctx.mongo, work)
    await offer_next(ctx, opening_id=offer.opening_id)
