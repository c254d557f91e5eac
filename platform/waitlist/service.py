"""Waitlist entries: joining, leaving, listing; and who is next in line for an opening."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.availability.service import offering_provider
from holdfast.bookings.models import SLOT_HOLDING, Booking
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import object_id
from holdfast.clock import as_utc, iso_z
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.notifications.timefmt import local_label
from holdfast.paging import Page, PageRequest, Segment, read_page
from holdfast.waitlist.models import Offer, Opening, WaitlistEntry
from holdfast.waitlist.schemas import Names, OfferView
from holdfast.waitlist.states import OfferState
from pymongo.errors import DuplicateKeyError

MAX_ENTRIES_PER_USER = 20


class OfferGone(DomainError):
    """The offer was declined, has expired, or someone else claimed the slot first."""

    kind, code = ErrorKind.GONE, "offer_gone"


def entry_key(
    user_id: PydanticObjectId,
    service_id: PydanticObjectId,
    provider_id: PydanticObjectId | None,
    earliest: datetime | None,
    latest: datetime | None,
) -> str:
    window = f"{iso_z(earliest) if earliest else ''}/{iso_z(latest) if latest else ''}"
    return f"{user_id}:{service_id}:{provider_id or '*'}:{window}"


async def join(
    ctx: Context,
    user: User,
    *,
    service_id: str,
    provider_id: str | None,
    earliest: datetime | None,
    latest: datetime | None,
) -> tuple[WaitlistEntry, bool]:
    """The user's entry for this (new, True; or the one they already had, False)."""
    _, offering = await ctx.catalog.service_with_providers(service_id)
    service_oid = object_id(service_id, "service")
    provider = await offering_provider(offering, provider_id) if provider_id else None
    earliest, latest = (as_utc(t) if t else None for t in (earliest, latest))
    if earliest and latest and latest <= earliest:
        raise Invalid("latest must be after earliest.", code="invalid_window")
    if latest and latest <= ctx.now():
        raise Invalid("That window is already over.", code="invalid_window")
    assert user.id is not None
    key = entry_key(user.id, service_oid, provider.id if provider else None, earliest, latest)
    if existing := await WaitlistEntry.find_one(WaitlistEntry.key == key):
        return existing, False
    if await WaitlistEntry.find(WaitlistEntry.user_id == user.id).count() >= MAX_ENTRIES_PER_USER:
        raise Invalid(
            f"You can wait for at most {MAX_ENTRIES_PER_USER} things at once; leave one first.",
            code="too_many_entries",
        )
    await ctx.indexes.require(
        "waitlist_entries.key_unique", refusing="Waitlist entry", because="joining twice is one"
    )
    entry = WaitlistEntry(
        user_id=user.id,
        service_id=service_oid,
        provider_id=provider.id if provider else None,
        earliest=earliest,
        latest=latest,
        key=key,
        joined_at=ctx.now(),
    )
    try:
        await entry.insert()
    except DuplicateKeyError:  # the same join, racing itself (a double click)
        found = await WaitlistEntry.find_one(WaitlistEntry.key == key)
        if found is None:
            raise
        return found, False
    return entry, True


async def my_entries(user: User) -> list[WaitlistEntry]:
    return await WaitlistEntry.find(WaitlistEntry.user_id == user.id).sort("joined_at").to_list()


async def leave(user: User, entry_id: str) -> None:
    """Leave the waitlist; an entry that is not the user's is not found."""
    gone = await WaitlistEntry.get_pymongo_collection().delete_one(
        {"_id": object_id(entry_id, "waitlist entry"), "user_id": user.id}
    )
    if gone.deleted_count == 0:
        raise NotFound(f"You have no waitlist entry {entry_id}.", code="entry_not_found")


async def in_line(opening: Opening) -> AsyncIterator[WaitlistEntry]:
    """The entries that want this opening's slot, first come first served: the service
    matches, the provider matches or any will do, and the slot lies in their window."""
    where: dict[str, Any] = {
        "service_id": opening.service_id,
        "provider_id": {"$in": [None, opening.provider_id]},
        "$and": [
            {"$or": [{"earliest": None}, {"earliest": {"$lte": opening.start}}]},
            {"$or": [{"latest": None}, {"latest": {"$gte": opening.end}}]},
        ],
    }
    async for entry in WaitlistEntry.find(where).sort("joined_at", "_id"):
        yield entry


async def busy_then(user_id: PydanticObjectId, start: datetime, end: datetime) -> bool:
    """Whether the person has a booking overlapping [start, end) (booked elsewhere meanwhile)."""
    found = await Booking.get_pymongo_collection().find_one(
        {
            "user_id": user_id,
            "status": {"$in": list(SLOT_HOLDING)},
            "start": {"$lt": end},
            "end": {"$gt": start},
        },
        projection={"_id": 1},
    )
    return found is not None


async def list_entries(page: PageRequest, service_id: str | None) -> Page[WaitlistEntry]:
    """Entries in the order they are served: first joined first."""
    where = {"service_id": object_id(service_id, "service")} if service_id else {}
    segment = Segment(where, (("joined_at", 1), ("_id", 1)))
    return await read_page(WaitlistEntry, [segment], page, listing=f"waitlist:{service_id}")


async def list_offers(page: PageRequest, state: OfferState | None) -> Page[Offer]:
    """Offers, the newest first."""
    where = {"state": str(state)} if state else {}
    segment = Segment(where, (("created_at", -1), ("_id", 1)))
    return await read_page(Offer, [segment], page, listing=f"offers:{state}")


async def offered(ctx: Context, offer: Offer) -> tuple[Service, Provider | None]:
    """What an offer is for: its service and provider (read as they are now, even one that no
    longer offers the service)."""
    service, offering = await ctx.catalog.service_with_providers(str(offer.service_id))
    provider = next((p for p in offering if p.id == offer.provider_id), None)
    return service, provider or await Provider.get(offer.provider_id)


async def describe(ctx: Context, offer: Offer) -> OfferView:
    """The offer in words its person reads: the service, the provider, the local time."""
    service, provider = await offered(ctx, offer)
    timezone = provider.timezone if provider else "UTC"
    return OfferView(
        state=offer.state,
        service=service.name,
        provider=provider.name if provider else "",
        start=offer.start,
        end=offer.end,
        start_local=local_label(offer.start, timezone),
        timezone=timezone,
        expires_at=offer.expires_at,
        booking_id=str(offer.booking_id) if offer.booking_id else None,
    )


async def names_of(rows: Sequence[WaitlistEntry] | Sequence[Offer]) -> Names:
    """Who and what a page of the admin's lists names (one read of each kind for the page)."""

    async def read(
        model: type[User] | type[Service] | type[Provider], ids: set[Any], *fields: str
    ) -> dict[Any, dict[str, Any]]:
        found = model.get_pymongo_collection().find(
            {"_id": {"$in": list(ids - {None})}}, projection=dict.fromkeys(fields, 1)
        )
        return {doc["_id"]: doc async for doc in found}

    people = await read(User, {row.user_id for row in rows}, "name", "email")
    services = await read(Service, {row.service_id for row in rows}, "name")
    providers = await read(Provider, {row.provider_id for row in rows}, "name")
    return Names(
        users={k: doc["name"] for k, doc in people.items()},
        emails={k: doc["email"] for k, doc in people.items()},
        services={k: doc["name"] for k, doc in services.items()},
        providers={k: doc["name"] for k, doc in providers.items()},
    )


async def get_offer(offer_id: str) -> Offer:
    offer = await Offer.get(offer_id)
    if offer is None:
        raise NotFound("There is no such offer.", code="offer_not_found")
    return offer


GONE = {
    OfferState.EXPIRED: "This offer has expired: the time went to the next person waiting.",
    OfferState.SUPERSEDED: "Sorry, this time has just been taken. You stay on the waitlist.",
    OfferState.DECLINED: "You declined this offer.",
    OfferState.ACCEPTED: "This offer was claimed already.",
}


def gone(state: OfferState) -> OfferGone:
    """Why an offer in `state` can no longer be claimed (410, its code names the state)."""
    sentence = GONE.get(state, GONE[OfferState.EXPIRED])
    return OfferGone(sentence, code=f"offer_{state}", state=str(state))


def offer_minutes(offer: Offer) -> int:
    """How long the offer holds the slot, as its message says it."""
    return max(1, math.ceil((offer.expires_at - offer.created_at).total_seconds() / 60))
