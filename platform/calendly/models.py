from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document, PydanticObjectId
from pymongo import ASCENDING, IndexModel

IntakeStatus = Literal["received", "booked", "cancelled", "rejected", "ignored"]


class SchedulingToken(Document):
    """A "Book now" token's jti: single use, decided by comparing with now (TTL only cleans)."""

    id: str  # type: ignore[assignment]  # the jti
    user_id: PydanticObjectId
    service_id: PydanticObjectId
    session: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None  # the invitee URI that consumed it
    cleanup_at: datetime

    class Settings:
        name = "scheduling_tokens"
        indexes = [IndexModel([("cleanup_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]


class CalendlyDelivery(Document):
    """A verified webhook, stored raw once per (event name, invitee URI)."""

    id: str  # type: ignore[assignment]
    event: str
    invitee_uri: str
    payload: dict[str, Any]
    received_at: datetime
    status: IntakeStatus = "received"
    reason: str | None = None
    booking_id: PydanticObjectId | None = None
    job_id: str | None = None  # set once the promoter has scheduled its processing

    class Settings:
        name = "calendly_deliveries"
        # Deliveries are found by `_id` (event name and invitee URI); the promoter's query is
        # the only other read that needs an index. Each index is one more write per webhook.
        indexes = [
            IndexModel(
                [("received_at", ASCENDING)],
                partialFilterExpression={"job_id": None},
                name="awaiting_job",
            ),
        ]
