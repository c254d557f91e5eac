from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from beanie import Document, PydanticObjectId
from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel

# The longest a booking may occupy, buffers included (a service is at most a day long with at
# most a day of buffer each side). Reads of "what overlaps this interval" start this far before
# it, so they walk the provider's index over days, never over years of history.
LONGEST_OCCUPIED = timedelta(days=3)

# pending_payment: held until paid or the payment hold lapses (then `expired`, see
# holdfast.payments).
BookingStatus = Literal["held", "pending_payment", "confirmed", "cancelled", "expired"]
# Every one of these holds its interval; cancelled and expired free it.
SLOT_HOLDING: tuple[BookingStatus, ...] = ("held", "pending_payment", "confirmed")


class MeetingLink(BaseModel):
    """A booking's online meeting, once it exists (see `holdfast.integrations.zoom`)."""

    provider: Literal["zoom"]
    join_url: str


class Booking(Document):
    user_id: PydanticObjectId
    provider_id: PydanticObjectId
    service_id: PydanticObjectId
    start: datetime
    end: datetime
    # The interval the booking keeps from others: its buffers included, rounded to claim units.
    occupied_start: datetime
    occupied_end: datetime
    status: BookingStatus
    source: str = "web"
    # "<user id>:<Idempotency-Key>": a retried request finds the booking its first try made.
    request_key: str | None = None
    cancel_reason: str | None = None
    # A `pending_payment` booking holds its time until then (see holdfast.payments).
    hold_until: datetime | None = None
    # Bookings made in Calendly keep their links there (see holdfast.calendly).
    calendly_event_uri: str | None = None
    calendly_invitee_uri: str | None = None
    # An occurrence of a recurring series (see holdfast.scheduling): the series, and the
    # instant its rule gave this occurrence (kept when the occurrence is moved).
    series_id: PydanticObjectId | None = None
    occurrence: datetime | None = None
    meeting: MeetingLink | None = None  # a video service's meeting, written by its job
    # Its confirmation went without the meeting link, which follows once written (see
    # `notifications.handlers` and `integrations.zoom.meetings`).
    link_owed: bool = False
    created_at: datetime
    updated_at: datetime

    # Indexes the ones below replaced, dropped once those exist (see `holdfast.db`): each is
    # one more to update on every booking's write, on a database that still holds it.
    retired_indexes: ClassVar[tuple[str, ...]] = (
        "start", "start_end", "user_time", "provider_start", "service_start", "status_start",
    )  # fmt: skip

    def unique_indexes(self) -> list[str]:
        """The unique indexes writing this booking relies on (see `holdfast.db.Indexes`)."""
        relied_on = {
            "bookings.request_key_unique": self.request_key,
            "bookings.calendly_invitee_unique": self.calendly_invitee_uri,
            "bookings.series_occurrence": self.series_id,
            # Its one payment is written in the same transaction (see holdfast.payments).
            "payments.booking_unique": self.status == "pending_payment",
        }
        return [name for name, value in relied_on.items() if value]

    class Settings:
        name = "bookings"
        indexes = [
            IndexModel(
                [("provider_id", ASCENDING), ("occupied_start", ASCENDING)], name="provider_time"
            ),
            # The lists' order (start, then id) with the end: a page of the upcoming list walks
            # the index in list order and stops after its rows (with `start_end` it fetched
            # and sorted every upcoming booking), judging each one's end from the index instead
            # of fetching the day of finished ones it looks back over. (It replaces `start_end`
            # and an index on `start` alone: `retired_indexes`.)
            IndexModel(
                [("start", ASCENDING), ("_id", ASCENDING), ("end", ASCENDING)], name="start_id_end"
            ),
            # The lists filter by one of these (the practice's, see holdfast.scheduling.agenda;
            # a client's own) and read in list order, start then id: each walks only the asked
            # window of its own index, in that order, so a page stops after its rows instead of
            # fetching the whole window to sort it. Without the id the planner preferred
            # `start_id_end`, which gives the order but not the filter. (They replace
            # `user_time`, `provider_start`, `service_start` and `status_start`, on the same
            # fields less the id: `retired_indexes`.)
            *(
                IndexModel(
                    [(field, ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)],
                    name=f"{field.removesuffix('_id')}_start_id",
                )
                for field in ("user_id", "provider_id", "service_id", "status")
            ),
            # One booking per occurrence of a series, however often its horizon job runs.
            IndexModel(
                [("series_id", ASCENDING), ("occurrence", ASCENDING)],
                unique=True,
                partialFilterExpression={"series_id": {"$type": "objectId"}},
                name="series_occurrence",
            ),
            IndexModel(
                [("calendly_invitee_uri", ASCENDING)],
                unique=True,
                partialFilterExpression={"calendly_invitee_uri": {"$type": "string"}},
                name="calendly_invitee_unique",
            ),
            IndexModel(
                [("request_key", ASCENDING)],
                unique=True,
                partialFilterExpression={"request_key": {"$type": "string"}},
                name="request_key_unique",
            ),
        ]


class BookingEvent(Document):
    """Append-only audit trail: one entry per status change, written in the change's transaction."""

    booking_id: PydanticObjectId
    at: datetime
    action: str
    from_status: BookingStatus | None
    to_status: BookingStatus
    actor: str
    reason: str | None = None
    data: dict[str, Any] = {}

    class Settings:
        name = "booking_events"
        indexes = [IndexModel([("booking_id", ASCENDING), ("at", ASCENDING)], name="booking_at")]


class SlotClaim(Document):
    """One five-minute unit of one provider's time, held by one booking or by one hold.

    `_id` is "<provider id>:<unit number>", so MongoDB's own `_id` uniqueness is what refuses two
    bookings that share a unit, whatever any application process checked before.
    """

    id: str  # type: ignore[assignment]
    booking_id: PydanticObjectId | None = None
    hold_id: str | None = None  # a `SlotHold` (a waitlist offer's lock) instead of a booking

    class Settings:
        name = "slot_claims"


class SlotHold(Document):
    """Time held for someone who is not booked yet: a waitlist offer's lock on a freed slot.

    Its claim units sit in `slot_claims` beside the bookings' (carrying `hold_id`), so no booking
    can take the time while the hold lasts; this document gives the interval for availability to
    hide. A hold ends by being released, or handed to the booking that claims it, in one
    transaction (see `holdfast.bookings.guard`)."""

    id: str  # type: ignore[assignment]  # "<holder>:<its id>", e.g. "waitlist:<opening>"
    provider_id: PydanticObjectId
    start: datetime
    end: datetime
    occupied_start: datetime
    occupied_end: datetime
    created_at: datetime

    class Settings:
        name = "slot_holds"
        indexes = [
            IndexModel(
                [("provider_id", ASCENDING), ("occupied_start", ASCENDING)], name="provider_time"
            )
        ]


class IdempotencyRecord(Document):
    id: str  # type: ignore[assignment]
    request_hash: str
    state: Literal["in_progress", "done"]
    # Which request holds the reservation: after a takeover, the request that lost it may
    # neither answer for the key nor free it.
    owner: str | None = None
    status_code: int | None = None
    body: Any = None
    created_at: datetime
    # Expiry is decided by comparing with now; the TTL index only cleans up.
    expires_at: datetime

    class Settings:
        name = "idempotency_keys"
        indexes = [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]
