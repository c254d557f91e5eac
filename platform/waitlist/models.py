from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from holdfast.waitlist.states import OfferState
from pymongo import ASCENDING, DESCENDING, IndexModel


class WaitlistEntry(Document):
    """One person waiting for a service (optionally one provider, optionally a window). First
    come, first served by `joined_at`; claiming an offer or leaving deletes the entry."""

    user_id: PydanticObjectId
    service_id: PydanticObjectId
    provider_id: PydanticObjectId | None = None  # None: any provider will do
    earliest: datetime | None = None
    latest: datetime | None = None
    # What the entry waits for: joining twice for the same thing finds this (unique).
    key: str
    joined_at: datetime

    class Settings:
        name = "waitlist_entries"
        indexes = [
            IndexModel([("key", ASCENDING)], unique=True, name="key_unique"),
            IndexModel([("service_id", ASCENDING), ("joined_at", ASCENDING)], name="queue"),
            IndexModel([("user_id", ASCENDING), ("joined_at", ASCENDING)], name="user"),
        ]


# open: being offered · filled: claimed through an offer · exhausted: nobody (else) eligible ·
# lapsed: too close to its start to offer · lost: booked by someone else before an offer held it.
OpeningStatus = Literal["open", "filled", "exhausted", "lapsed", "lost"]


class Opening(Document):
    """A freed slot being offered to the waitlist: one per freed thing (its id is fixed by
    what was freed), so the same cancellation arriving five times or by two paths is one chain.
    """

    id: str  # type: ignore[assignment]
    provider_id: PydanticObjectId
    service_id: PydanticObjectId
    start: datetime
    end: datetime
    freed_at: datetime  # when the cancellation happened: latency is measured from here
    source: str  # "booking" (a Holdfast change) or "webhook"
    status: OpeningStatus = "open"
    price_cents: int = 0  # what filling it recovers
    currency: str | None = None
    first_offer_at: datetime | None = None
    filled_at: datetime | None = None
    booking_id: PydanticObjectId | None = None  # the booking that filled it
    closed_at: datetime | None = None
    created_at: datetime

    class Settings:
        name = "waitlist_openings"
        indexes = [IndexModel([("freed_at", DESCENDING)], name="freed")]


class Offer(Document):
    """An opening offered to one person. `_id` is "<opening>:<user>": nobody is offered one
    opening twice, however often `offer_next` runs."""

    id: str  # type: ignore[assignment]
    opening_id: str
    entry_id: PydanticObjectId
    user_id: PydanticObjectId
    service_id: PydanticObjectId
    provider_id: PydanticObjectId
    start: datetime
    end: datetime
    state: OfferState = OfferState.SENT
    seat: int  # which of the opening's seats it holds while active (see OfferSeat)
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    viewed_at: datetime | None = None
    booking_id: PydanticObjectId | None = None

    class Settings:
        name = "waitlist_offers"
        indexes = [
            IndexModel([("opening_id", ASCENDING)], name="opening"),
            IndexModel([("state", ASCENDING), ("created_at", DESCENDING)], name="state"),
            # A client's record lists their offers (see holdfast.scheduling.records).
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_time"),
        ]


class OfferSeat(Document):
    """One of an opening's `batch_size` seats (`_id` "<opening>:<n>"), taken by an active offer
    and given back when it ends, in the same transaction: MongoDB's unique `_id` is what keeps
    an opening to its number of active offers, whatever races."""

    id: str  # type: ignore[assignment]
    offer_id: str

    class Settings:
        name = "waitlist_seats"
