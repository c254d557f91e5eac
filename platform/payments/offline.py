"""Money taken at the practice: a payment `due` (booked with "pay later") marked paid by an
admin, with how it was paid. It moves like any payment (`advance`: one conditional update with
its history entry), so revenue counts it when it was marked and its receipt shows it."""

from __future__ import annotations

from holdfast.accounts.models import User
from holdfast.catalog.service import object_id
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, NotFound
from holdfast.payments.models import OfflineMethod, Payment, advance


class PaymentNotDue(DomainError):
    kind, code = ErrorKind.CONFLICT, "payment_not_due"


async def _payment(payment_id: str) -> Payment:
    payment = await Payment.get(object_id(payment_id, "payment"))
    if payment is None:
        raise NotFound(f"There is no payment with id {payment_id}.", code="payment_not_found")
    return payment


async def mark_paid(
    ctx: Context, payment_id: str, admin: User, method: OfflineMethod, note: str | None
) -> Payment:
    """Record that a due payment was paid at the practice. Marking it again (a double click, a
    retried request) answers the payment as it is; a payment that is not due (paid online,
    still held for Checkout, expired with its booking) is refused."""
    payment = await _payment(payment_id)
    if payment.method is None and payment.status == "due":
        entry = {"by": "admin", "actor": str(admin.id), "method": method, "note": note}
        # No transaction: this one update is the whole change (the booking is confirmed
        # already); if another request moved the payment first, it is read again below.
        await advance(None, payment, "paid", ctx.now(), **entry)
        payment = await _payment(payment_id)
    if payment.method is not None:
        return payment
    raise PaymentNotDue(
        f"This payment is {payment.status}: only a payment due (booked to be paid at the "
        "practice) can be marked paid."
    )
