from __future__ import annotations

from holdfast.notifications.models import Channel, DeliveryStatus, Message
from holdfast.notifications.outbox import public_id
from holdfast.schemas import UtcInstant
from pydantic import BaseModel, Field


class MessageOut(BaseModel):
    id: str = Field(description="Names the message at /api/admin/messages/{id} (opaque).")
    job_id: str
    booking_id: str | None
    kind: str = Field(description="What the message is: confirmation, reminder, cancellation…")
    template: str = Field(description="The same as `kind` (its template's name).")
    channel: Channel
    to: str
    subject: str
    body: str = Field(description="The message's text.")
    has_invite: bool = Field(description="It carried a calendar invite (`invite.ics`).")
    status: DeliveryStatus
    provider_message_id: str | None
    attempts: int = Field(description="Delivery tries so far.")
    last_error: str | None = Field(description="Why the last try failed, if it did.")
    created_at: UtcInstant
    sent_at: UtcInstant | None

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        fields = message.model_dump(include=set(cls.model_fields) - {"has_invite", "id", "kind"})
        return cls(
            **fields,
            id=public_id(message),
            kind=message.template,
            has_invite=message.ics is not None,
        )


class MessageDetailOut(MessageOut):
    text: str = Field(description="The full text as sent.")

    @classmethod
    def detail(cls, message: Message) -> MessageDetailOut:
        return cls(**MessageOut.of(message).model_dump(), text=message.body)
