"""A payment and the moves its state may make, written down once.

Every move is one conditional update (`{"_id": ..., "status": <from>}`), so two writers racing
over the same payment (a webhook delivered twice, the hold lapsing as the payment lands) cannot
both make it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document, PydanticObjectId
from holdfast.bookings.models import BookingStatus
from holdfast.db import Session
from pymongo import ASCENDING, DESCENDING, IndexModel

PaymentStatus = Literal[
    "pending", "due", "paid", "refunded", "partially_refunded", "failed", "expired"
]
# How a payment taken at the practice was made (see holdfast.payments.offline).
OfflineMethod = Literal["cash", "card_terminal", "bank_transfer", "other"]

# The only moves a payment's status may make.
PAYMENT_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    "pending": frozenset({"paid", "failed", "expired"}),
    # Booked confirmed, to be paid later (an admin's "pay later"); nothing owed once cancelled.
    "due": frozenset({"paid", "expired"}),
    # A payment that lands after its hold lapsed is still money received: it is recorded as
    # paid, then the booking is confirmed (the time still free) or the money refunded.
    "expired": frozenset({"paid"}),
    "failed": frozenset({"paid", "expired"}),
    "paid": frozenset({"refunded", "partially_refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "refunded": frozenset(),
}

# The moves the payments domain makes of a booking's status.
BOOKING_MOVES: dict[BookingStatus, frozenset[BookingStatus]] = {
    "pending_payment": frozenset({"confirmed", "expired"}),
    "expired": frozenset({"confirmed"}),  # paid late while its time was still free
}


class Payment(Document):
    """One booking's payment: at most one per booking, so a booking is never charged twice."""

    booking_id: PydanticObjectId
    user_id: PydanticObjectId
    amount_cents: int
    currency: str  # ISO 4217, upper case
    status: PaymentStatus = "pending"
    refunded_cents: int = 0
    hold_until: datetime
    checkout_session_id: str | None = None
    checkout_url: str | None = None
    checkout_expires_at: datetime | None = None
    payment_intent_id: str | None = None
    # Paid at the practice, not through Stripe: how (an admin marked it paid). Such money is
    # never refunded through Stripe; the practice gives it back itself.
    method: OfflineMethod | None = None
    created_at: datetime
    updated_at: datetime
    # Append-only: every move, with what caused it (a Stripe event id, the hold's job).
    history: list[dict[str, Any]] = []

    @property
    def refundable_cents(self) -> int:
        """What of the money received is not refunded yet (none while nothing was received)."""
        if self.status not in ("paid", "partially_refunded"):
            return 0
        return self.amount_cents - self.refunded_cents

    class Settings:
        name = "payments"
        indexes = [
            IndexModel([("booking_id", ASCENDING)], unique=True, name="booking_unique"),
            IndexModel(
                [("checkout_session_id", ASCENDING)],
                partialFilterExpression={"checkout_session_id": {"$type": "string"}},
                name="checkout_session",
            ),
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_time"),
            IndexModel([("created_at", DESCENDING)], name="created"),
            IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
            # Revenue per period reads the moves (paid, refunded) by when they happened.
            IndexModel([("history.at", ASCENDING)], name="history_at"),
        ]


async def advance(
    session: Session | None, payment: Payment, to: PaymentStatus, now: datetime, **note: Any
) -> bool:
    """Move the payment's status by one conditional update, with a history entry; False if it
    had already moved (someone else made this or another move first)."""
    if to not in PAYMENT_MOVES[payment.status]:
        raise ValueError(f"a payment cannot go from {payment.status} to {to}")
    sets = {k: v for k, v in note.items() if k in Payment.model_fields}
    entry = {"at": now, "from": payment.status, "to": to, **note}
    changed = await Payment.get_pymongo_collection().update_one(
        {"_id": payment.id, "status": payment.status},
        {"$set": {"status": to, "updated_at": now, **sets}, "$push": {"history": entry}},
        session=session,
    )
    if changed.modified_count == 0:
        return False
    payment.status, payment.updated_at = to, now
    return True
