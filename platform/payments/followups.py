"""What the payments domain does when a booking changes: a held booking gets its payment."""

from __future__ import annotations

from datetime import datetime, timedelta

from beanie import PydanticObjectId
from holdfast.bookings.followups import Change
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Price, Service
from holdfast.db import Session
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job
from holdfast.payments.models import Payment, PaymentStatus, advance

EXPIRE_HOLD = "payments.expire_hold"
REFUND = "payments.refund"


def subject(booking_id: object) -> str:
    return f"payment:{booking_id}"


async def _record_payment(
    session: Session,
    booking: Booking,
    price: Price,
    status: PaymentStatus,
    hold_until: datetime,
    now: datetime,
    *,
    by: str,
) -> None:
    """Write a booking's one payment (the price as it is now), in the booking's transaction."""
    payment = Payment(
        id=PydanticObjectId(),
        booking_id=booking.id,
        user_id=booking.user_id,
        amount_cents=price.amount_cents,
        currency=price.currency,
        status=status,
        hold_until=hold_until,
        created_at=now,
        updated_at=now,
        history=[{"at": now, "to": status, "by": by}],
    )
    await Payment.get_pymongo_collection().insert_one(
        payment.model_dump(by_alias=True), session=session
    )


async def hold_until_paid(session: Session, change: Change) -> list[Job]:
    """A booking held awaiting payment gets its payment record (pending, the price as it is
    now) and the job that lets its time go if it is not paid by `hold_until`, both in the
    booking's own transaction: a hold never outlives its lapse."""
    booking = change.booking
    if change.kind != "held" or booking.hold_until is None:
        return []
    service = change.service or await Service.get(booking.service_id, session=session)
    if service is None or service.price is None:
        raise ValueError(f"held booking {booking.id} has no priced service")
    await _record_payment(
        session, booking, service.price, "pending", booking.hold_until, change.now, by="booking"
    )
    return [
        new_job(
            kind=EXPIRE_HOLD,
            subject=subject(booking.id),
            run_at=booking.hold_until,
            now=change.now,
            payload={"booking_id": str(booking.id)},
        )
    ]


async def payment_due(session: Session, booking: Booking) -> list[Job]:
    """A booking the practice lets be paid later (confirmed now) owes its price: a payment
    `due`, written in the booking's own transaction (`book_slot(within=...)`)."""
    service = await Service.get(booking.service_id, session=session)
    if service is None or service.price is None or not service.prepay:
        return []  # paid at the practice, as any service that is not prepaid
    now = booking.created_at
    await _record_payment(session, booking, service.price, "due", now, now, by="pay later")
    return []


async def refund_when_cancelled(session: Session, change: Change) -> list[Job]:
    """A paid booking cancelled at least its service's `refund_cutoff_hours` before the start
    is refunded in full (later, only an admin refunds); a held one's Checkout is closed now."""
    booking, now = change.booking, change.now
    if change.kind != "cancelled":
        return []
    payment = await Payment.find_one(Payment.booking_id == booking.id, session=session)
    if payment is None:
        return []
    if payment.status == "due":  # nothing was paid and nothing is owed any more
        await advance(session, payment, "expired", now, by="cancelled")
        return []
    if payment.status == "pending":
        payload = {"booking_id": str(booking.id)}
        closing = new_job(
            kind=EXPIRE_HOLD, subject=subject(booking.id), run_at=now, now=now, payload=payload,
            intended=now,
        )  # fmt: skip
        return [closing]
    remaining = payment.refundable_cents
    if remaining <= 0:
        return []
    if payment.method is not None:
        # Paid at the practice: no card to refund to; the practice settles it (and the email
        # says so).
        decided_offline = {"at": now, "on_cancel": 0, "offline": payment.method}
        await Payment.get_pymongo_collection().update_one(
            {"_id": payment.id}, {"$push": {"history": decided_offline}}, session=session
        )
        return []
    service = change.service or await Service.get(booking.service_id, session=session)
    hours = service.refund_cutoff_hours if service else 0
    refunded = remaining if booking.start - now >= timedelta(hours=hours) else 0
    # The decision, in the payment's history: the cancellation email tells it (and why).
    decided = {"at": now, "on_cancel": refunded, "cutoff_hours": hours}
    await Payment.get_pymongo_collection().update_one(
        {"_id": payment.id}, {"$push": {"history": decided}}, session=session
    )
    if not refunded:
        return []
    return [refund_job(payment, now, amount=remaining, why="cancelled")]


def refund_job(payment: Payment, now: datetime, *, amount: int, why: str) -> Job:
    """The job that refunds `amount` of the payment; `why` names this refund, so the job and
    Stripe's Idempotency-Key are the same however often it is asked for."""
    return new_job(
        kind=REFUND,
        subject=f"refund:{payment.id}:{why}",
        run_at=now,
        now=now,
        payload={"payment_id": str(payment.id), "amount": amount, "why": why},
        intended=payment.created_at,
    )
