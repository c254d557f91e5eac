from __future__ import annotations

from datetime import datetime
from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.schemas import UserRef
from holdfast.clock import iso_z
from holdfast.payments.models import OfflineMethod, Payment, PaymentStatus
from holdfast.payments.receipts import Receipt
from holdfast.schemas import Input, UtcInstant
from pydantic import BaseModel, Field


class MarkPaidIn(Input):
    method: OfflineMethod = Field(description="How it was paid at the practice.")
    note: str | None = Field(
        default=None, max_length=500, description="Anything worth keeping (a receipt number)."
    )


PAID_AT_PRACTICE = Field(
    default=None, description="Paid at the practice: how (an admin marked it); null: online."
)


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
    method: OfflineMethod | None = PAID_AT_PRACTICE
    client: UserRef | None = Field(default=None, description="Who paid (in an admin's lists).")

    @classmethod
    def of(cls, payment: Payment, client: User | None = None) -> PaymentOut:
        # Instants as everywhere in the API: UTC ending in Z.
        history = [
            {k: (iso_z(v) if isinstance(v, datetime) else v) for k, v in entry.items()}
            for entry in payment.history
        ]
        return cls(
            id=str(payment.id),
            booking_id=str(payment.booking_id),
            history=history,
            client=UserRef.of(client) if client else None,
            **payment.model_dump(
                include={
                    "amount_cents", "currency", "status", "refunded_cents", "hold_until",
                    "checkout_url", "created_at", "updated_at", "method",
                }
            ),
        )  # fmt: skip


class RefundLineOut(BaseModel):
    at: UtcInstant
    amount_cents: int


class ReceiptOut(BaseModel):
    """A payment's receipt: what, when, how much, and what was refunded."""

    id: str  # the payment's id: the receipt's reference
    booking_id: str
    service: str
    provider: str
    start: UtcInstant | None
    end: UtcInstant | None
    client: UserRef | None
    amount_cents: int
    currency: str
    status: PaymentStatus
    paid_at: UtcInstant | None
    method: OfflineMethod | None = PAID_AT_PRACTICE
    refunds: list[RefundLineOut]
    refunded_cents: int
    net_cents: int = Field(description="Paid minus refunded: what the practice kept.")

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOut:
        payment, booking = receipt.payment, receipt.booking
        return cls(
            id=str(payment.id),
            booking_id=str(payment.booking_id),
            service=receipt.service_name,
            provider=receipt.provider_name,
            start=booking.start if booking else None,
            end=booking.end if booking else None,
            client=UserRef.of(receipt.client) if receipt.client else None,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            status=payment.status,
            paid_at=receipt.paid_at,
            method=payment.method,
            refunds=[RefundLineOut(at=r.at, amount_cents=r.amount_cents) for r in receipt.refunds],
            refunded_cents=payment.refunded_cents,
            net_cents=receipt.net_cents,
        )
