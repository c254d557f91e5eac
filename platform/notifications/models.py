from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel

Channel = Literal["email", "sms"]
# queued: not yet sent · sending: a worker is sending it now (until `sending_until`; past that
# it is presumed dead and the job's next attempt sends it) · sent: the provider accepted it ·
# failed: the last try failed (the job retries) · outbox: no provider configured (dev), kept for
# the admin to read.
DeliveryStatus = Literal["queued", "sending", "sent", "failed", "outbox"]


class Message(Document):
    """One message to one recipient. `_id` is its dedupe key: a re-run job finds it sent."""

    id: str  # type: ignore[assignment]
    job_id: str
    booking_id: str | None = None
    template: str
    channel: Channel
    to: str
    subject: str
    body: str
    ics: str | None = None
    status: DeliveryStatus = "queued"
    provider_message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    # While sending: the job claim that sends it, and until when it may.
    sending_by: str | None = None
    sending_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("created_at", DESCENDING)], name="created"),
            IndexModel([("booking_id", ASCENDING)], name="booking"),
            # The console's "messages to this person", newest first.
            IndexModel([("to", ASCENDING), ("created_at", DESCENDING)], name="to_created"),
            # The alert rule counts the failing ones (see holdfast.monitoring.rules).
            IndexModel(
                [("status", ASCENDING)],
                partialFilterExpression={"status": "failed"},
                name="failing",
            ),
        ]
