from __future__ import annotations

from typing import Any

from holdfast.payments.models import Payment, PaymentStatus
from holdfast.schemas import Input, UtcInstant
from pydantic import BaseModel, Field


class RefundIn(Input):
    # Unset: all that is left of the payment.
    amount_cents: int | None = Field(default=None, ge=1, le=100_000_000)


class CheckoutLinkOut(BaseModel):
    """Where to pay for a held booking, and until when its time is held."""

    id: str
    checkout_url: str | None
    expires_at: UtcInstant
    amount_cents: int
    currency: str

    @classmethod
    def of(cls, payment: Payment) -> CheckoutLinkOut:
        return cls(
            id=str(payment.id),
            checkout_url=payment.checkout_url,
            expires_at=payment.hold_until,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
        )


class PaymentOut(BaseModel):
    id: str
    booking_id: str
    amount_cents: int
    currency: str
    status: PaymentStatus
    refunded_cents: int
    hold_until: UtcInstant
    checkout_url: str | None
    created_at: UtcInstant
    updated_at: UtcInstant
    history: list[dict[str, Any]]

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        history = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in entry.items()}
            for entry in payment.history
        ]
        return cls(
            id=str(payment.id),
            booking_id=str(payment.booking_id),
            history=history,
            **payment.model_dump(
                include={
                    "amount_cents", "currency", "status", "refunded_cents", "hold_until",
                    "checkout_url", "created_at", "updated_at",
                }
            ),
        )  # fmt: skip
