from __future__ import annotations

from holdfast.notifications.models import Channel, DeliveryStatus, Message
from holdfast.schemas import UtcInstant
from pydantic import BaseModel


class MessageOut(BaseModel):
    id: str
    job_id: str
    booking_id: str | None
    template: str
    channel: Channel
    to: str
    subject: str
    body: str
    has_invite: bool
    status: DeliveryStatus
    provider_message_id: str | None
    attempts: int
    last_error: str | None
    created_at: UtcInstant
    sent_at: UtcInstant | None

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        fields = message.model_dump(include=set(cls.model_fields) - {"has_invite"})
        return cls(**fields, has_invite=message.ics is not None)
