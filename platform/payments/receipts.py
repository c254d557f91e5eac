"""A payment's receipt: what was bought, when it was paid, how much, and what was refunded,
read from the payment's own append-only history (never recomputed from Stripe)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import object_id
from holdfast.errors import NotFound
from holdfast.payments.models import Payment


@dataclass(frozen=True, slots=True)
class RefundLine:
    at: datetime
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Receipt:
    payment: Payment
    booking: Booking | None
    service_name: str
    provider_name: str
    client: User | None
    paid_at: datetime | None
    refunds: list[RefundLine]

    @property
    def net_cents(self) -> int:
        """What the practice kept: paid minus refunded (nothing while nothing was paid)."""
        if self.paid_at is None:
            return 0
        return self.payment.amount_cents - self.payment.refunded_cents


def paid_at(payment: Payment) -> datetime | None:
    """When the money was received (the history's move to paid)."""
    return next((e["at"] for e in payment.history if e.get("to") == "paid"), None)


def refund_lines(payment: Payment) -> list[RefundLine]:
    """Each recorded refund and its amount (its history entry's `refund_cents`)."""
    lines: list[RefundLine] = []
    before = 0
    for entry in payment.history:
        if entry.get("to") in ("refunded", "partially_refunded"):
            total = int(entry.get("refunded_cents", before))
            amount = int(entry.get("refund_cents", total - before))
            lines.append(RefundLine(at=entry["at"], amount_cents=amount))
            before = total
    return lines


def money(cents: int, currency: str) -> str:
    return f"{cents / 100:.2f} {currency}"


async def cancellation_terms(booking_id: object) -> str | None:
    """What a cancelled booking's client is told of their money: refunded (how much), or no
    refund and why; None for a booking without a payment."""
    payment = await Payment.find_one(Payment.booking_id == booking_id)
    if payment is None:
        return None
    decided = next((e for e in reversed(payment.history) if "on_cancel" in e), None)
    if decided is None:
        if payment.status in ("pending", "expired", "failed"):
            return "You had not paid for it, so nothing was charged."
        return None
    paid = money(payment.amount_cents, payment.currency)
    if "offline" in decided:
        return (
            f"You paid {paid} at the practice; the practice will settle any refund with you "
            "directly."
        )
    refunded = int(decided["on_cancel"])
    if refunded >= payment.amount_cents:
        return (
            f"Your payment of {paid} is refunded in full to the card you paid with; banks "
            "usually show it within 5 to 10 days."
        )
    if refunded:
        return (
            f"The rest of your payment of {paid}, {money(refunded, payment.currency)}, is "
            "refunded to the card you paid with (the other part was refunded before); banks "
            "usually show it within 5 to 10 days."
        )
    return (
        f"No refund applies to your payment of {paid}: the booking was cancelled less than "
        f"{decided['cutoff_hours']} hours before it started, which is when refunds for this "
        "service end. If you think it should be refunded, please contact the practice."
    )


async def receipt_of(payment_id: str, reader: User) -> Receipt:
    """The receipt of one payment, for its own client or an admin; anyone else is told there
    is no such payment (a receipt never confirms that someone else's payment exists)."""
    payment = await Payment.get(object_id(payment_id, "payment"))
    if payment is None or (reader.role != "admin" and payment.user_id != reader.id):
        raise NotFound(f"There is no payment with id {payment_id}.", code="payment_not_found")
    booking = await Booking.get(payment.booking_id)
    service = await Service.get(booking.service_id) if booking else None
    provider = await Provider.get(booking.provider_id) if booking else None
    return Receipt(
        payment=payment,
        booking=booking,
        service_name=service.name if service else "A session",
        provider_name=provider.name if provider else "",
        client=await User.get(payment.user_id),
        paid_at=paid_at(payment),
        refunds=refund_lines(payment),
    )
