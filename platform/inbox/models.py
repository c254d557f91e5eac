from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel

# received: stored, its job not yet done · processed: acted on · rejected: verified but refused
# (the reason says why, for the admin) · ignored: verified, nothing for Holdfast to do.
DeliveryStatus = Literal["received", "processed", "rejected", "ignored"]


class Delivery(Document):
    """One verified webhook delivery, stored raw once per (source, the sender's own id)."""

    id: str  # type: ignore[assignment]  # "<source>:<key>"
    source: str  # "cancellations", "stripe", ...
    key: str  # the sender's id for the event (Stripe's event id, a hash of the body, ...)
    kind: str  # the sender's event type
    payload: dict[str, Any]
    received_at: datetime
    status: DeliveryStatus = "received"
    reason: str | None = None
    result: dict[str, Any] = {}  # what processing made of it (ids of what it touched)
    job_id: str | None = None  # set once the promoter has given it its processing job
    processed_at: datetime | None = None

    class Settings:
        name = "inbox"
        # Deliveries are found by `_id`; the promoter's query and the admin's list are the only
        # other reads. Each index is one more write per webhook, on the acknowledgement's path.
        indexes = [
            IndexModel(
                [("received_at", ASCENDING)],
                partialFilterExpression={"job_id": None},
                name="awaiting_job",
            ),
            IndexModel([("source", ASCENDING), ("received_at", DESCENDING)], name="by_source"),
        ]
