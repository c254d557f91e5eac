from __future__ import annotations

from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.schemas import UserRef
from holdfast.bookings.models import Booking, BookingEvent, BookingStatus, MeetingLink
from holdfast.payments.models import Payment
from holdfast.payments.schemas import CheckoutLinkOut
from holdfast.schemas import Input, InstantIn, UtcInstant
from pydantic import BaseModel, Field


class BookingIn(Input):
    service_id: str = Field(min_length=1, max_length=64)
    provider_id: str = Field(min_length=1, max_length=64)
    start: InstantIn


class CancelIn(Input):
    reason: str | None = Field(default=None, max_length=1000)


class BookingOut(BaseModel):
    id: str
    user_id: str
    provider_id: str
    service_id: str
    start: UtcInstant
    end: UtcInstant
    status: BookingStatus
    source: str
    cancel_reason: str | None
    meeting: MeetingLink | None = None  # a video session's link, once its meeting exists
    created_at: UtcInstant
    updated_at: UtcInstant
    series_id: str | None = Field(
        default=None, description="The recurring series this booking is an occurrence of."
    )
    client: UserRef | None = Field(
        default=None, description="Who the booking is for (in an admin's lists)."
    )
    # A booking held awaiting payment: where to pay, and until when (only when just booked).
    payment: CheckoutLinkOut | None = None

    @classmethod
    def of(
        cls, booking: Booking, client: User | None = None, payment: Payment | None = None
    ) -> BookingOut:
        return cls(
            payment=CheckoutLinkOut.of(payment) if payment else None,
            series_id=str(booking.series_id) if booking.series_id else None,
            client=UserRef.of(client) if client else None,
            id=str(booking.id),
            user_id=str(booking.user_id),
            provider_id=str(booking.provider_id),
            service_id=str(booking.service_id),
            start=booking.start,
            end=booking.end,
            status=booking.status,
            source=booking.source,
            cancel_reason=booking.cancel_reason,
            meeting=booking.meeting,
            created_at=booking.created_at,
            updated_at=booking.updated_at,
        )


class HistoryEntryOut(BaseModel):
    at: UtcInstant
    action: str
    from_status: BookingStatus | None
    to_status: BookingStatus
    actor: str
    reason: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, event: BookingEvent) -> HistoryEntryOut:
        data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in event.data.items()}
        return cls(
            **event.model_dump(
                include={"at", "action", "from_status", "to_status", "actor", "reason"}
            ),
            data=data,
        )
