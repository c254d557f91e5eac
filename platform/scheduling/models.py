from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel

SeriesState = Literal["active", "ended", "cancelled"]
# booked: another booking (or time held otherwise, e.g. a busy calendar) is there ·
# outside_hours: the provider does not work then · not_offered: the service or the provider
# was archived (or the provider no longer offers the service).
ConflictReason = Literal["booked", "outside_hours", "not_offered"]


class SeriesConflict(BaseModel):
    """An occurrence that could not be booked (or, found later, no longer fits): reported to the
    admin, never silently dropped."""

    start: datetime  # the occurrence's instant
    reason: ConflictReason
    found_at: datetime
    booking_id: PydanticObjectId | None = None  # a booked occurrence that stopped fitting


class Series(Document):
    """A recurring session: an RFC 5545 rule at a local wall-clock time in `timezone`.

    Occurrences become bookings (`Booking.series_id`) up to `materialised_until`, which the
    daily horizon job moves forward; nothing beyond it is written yet.
    """

    user_id: PydanticObjectId
    service_id: PydanticObjectId
    provider_id: PydanticObjectId
    rrule: str
    start_local: str  # "YYYY-MM-DDTHH:MM", wall-clock time in `timezone`
    timezone: str
    rule_count: int | None = None  # the request's `count` (`count` names a Document method)
    until: datetime | None = None
    state: SeriesState = "active"
    # Every occurrence starting before this instant has been booked or reported.
    materialised_until: datetime
    # Occurrences from this instant on were cancelled ("this and following").
    cut_from: datetime | None = None
    # Single occurrences cancelled before they were booked: never materialised.
    excluded: list[datetime] = []
    conflicts: list[SeriesConflict] = []
    created_by: str
    request_key: str | None = None  # "<admin id>:<Idempotency-Key>" of the creating request
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "series"
        indexes = [
            IndexModel([("state", ASCENDING), ("materialised_until", ASCENDING)], name="due"),
            IndexModel([("user_id", ASCENDING), ("created_at", ASCENDING)], name="user_created"),
            IndexModel(
                [("request_key", ASCENDING)],
                unique=True,
                partialFilterExpression={"request_key": {"$type": "string"}},
                name="request_key_unique",
            ),
        ]
