"""The payment's state, owned here: Stripe is asked (`payments.stripe.api`), this module decides.

A booking of a prepaid service is held (`pending_payment`) with a pending payment, written in
the booking's transaction (`payments.followups`). Only what Stripe says when asked again after
a signed webhook confirms it (`settle_checkout`): the payment paid and the booking confirmed,
with its confirmation and reminder scheduled, in one transaction. A hold that lapses first is
closed at Stripe, then the booking expires and its time is freed in one transaction (`lapse`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings import followups
from holdfast.bookings.guard import Collision, claim, release
from holdfast.bookings.models import Booking, BookingStatus
from holdfast.bookings.service import record
from holdfast.catalog.service import object_id
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.inbox.models import DeliveryStatus
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job, push_due, schedule_all
from holdfast.paging import Page, PageRequest, Segment, read_page
from holdfast.payments.followups import refund_job
from holdfast.payments.models import BOOKING_MOVES, Payment, PaymentStatus, advance
from holdfast.payments.stripe import api
from holdfast.payments.stripe.api import Checkout, StripeUnavailable

log = structlog.get_logger(__name__)
# What a Stripe delivery came to: its status in the inbox, and why.
Outcome = tuple[DeliveryStatus, str | None]
ACTOR = "payments"
# Stripe refuses a Checkout Session that expires sooner; the hold is shorter and is enforced
# here, by expiring the Session when it lapses.
STRIPE_SHORTEST_SESSION = timedelta(minutes=31)
TELL_REFUND = "payments.tell_refund"


class CheckoutUnavailable(DomainError):
    kind, code = ErrorKind.UNAVAILABLE, "payments_unavailable"


class NotRefundable(DomainError):
    kind, code = ErrorKind.CONFLICT, "not_refundable"


class Raced(Exception):
    """A record changed between the read and the conditional write: the transaction aborts and
    the job runs again, reading what is there now."""


class NotYetVisible(Exception):
    """Stripe speaks of a booking whose own transaction is not visible yet; the job retries."""


async def _move_booking(
    session: Session, booking: Booking, to: BookingStatus, now: datetime, why: str
) -> None:
    """The booking's move, conditional on the status it was read with, and its history."""
    previous = booking.status
    if to not in BOOKING_MOVES.get(previous, frozenset()):
        raise Raced(f"booking {booking.id} is {previous}, not movable to {to}")
    changed = await Booking.get_pymongo_collection().update_one(
        {"_id": booking.id, "status": previous},
        {"$set": {"status": to, "updated_at": now, "hold_until": None}},
        session=session,
    )
    if changed.modified_count == 0:
        raise Raced(f"booking {booking.id} changed while {why}")
    booking.status, booking.updated_at, booking.hold_until = to, now, None
    await record(session, booking, action=why, from_status=previous, actor=ACTOR)


# --- Paying ------------------------------------------------------------------------------------


def result_url(ctx: Context, booking_id: object) -> str:
    """The page Checkout sends the payer back to: it waits for the webhook's confirmation
    (it never confirms anything itself)."""
    return f"{ctx.settings.public_url.rstrip('/')}/payments/result?booking={booking_id}"


async def start_checkout(ctx: Context, booking: Booking, user: User) -> Payment:
    """The held booking's Checkout Session, made once (a retry gets the same one). If Stripe
    cannot make it, the hold is let go at once and the client told to try again."""
    payment = await Payment.find_one(Payment.booking_id == booking.id)
    if payment is None:
        raise ValueError(f"held booking {booking.id} has no payment")
    if payment.checkout_session_id:
        return payment
    # The booking path has just read the service through this snapshot: usually no round trip.
    service, _ = await ctx.catalog.service_with_providers(str(booking.service_id))
    try:
        checkout = await api.create_checkout(
            ctx.settings,
            booking_id=str(booking.id),
            name=service.name,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            expires_at=max(payment.hold_until, ctx.now() + STRIPE_SHORTEST_SESSION),
            email=user.email,
            success_url=result_url(ctx, booking.id),
            cancel_url=f"{result_url(ctx, booking.id)}&cancelled=1",
        )
    except StripeUnavailable as exc:
        log.warning("payments.checkout_failed", booking_id=str(booking.id), error=str(exc))
        await lapse(ctx, payment.booking_id, why="checkout unavailable", at_stripe=False)
        raise CheckoutUnavailable(
            "Online payment is not reachable at the moment, so the time was not kept; "
            "please try again in a few minutes."
        ) from exc
    sets = {
        "checkout_session_id": checkout.id,
        "checkout_url": checkout.url,
        "checkout_expires_at": checkout.expires_at,
    }
    await Payment.get_pymongo_collection().update_one(
        {"_id": payment.id, "checkout_session_id": None},
        {"$set": sets, "$push": {"history": {"at": ctx.now(), "checkout": checkout.id}}},
    )
    # A racing request wrote the same Session (one Idempotency-Key per booking): not read back.
    payment.checkout_session_id, payment.checkout_url = checkout.id, checkout.url
    payment.checkout_expires_at = checkout.expires_at
    return payment


async def checkout_for(ctx: Context, booking: Booking) -> Payment | None:
    """The Checkout of a booking held awaiting payment, made for its client (an admin's
    booking, a waitlist claim: the answer carries the link); None for any other booking."""
    if booking.status != "pending_payment":
        return None
    client = await User.get(booking.user_id)
    if client is None:
        raise ValueError(f"held booking {booking.id} has no client")
    return await start_checkout(ctx, booking, client)


async def settle_checkout(ctx: Context, checkout: Checkout, by: str) -> Outcome:
    """Act on a Checkout Session as Stripe has it now: (the delivery's status, a reason)."""
    if checkout.booking_id is None or not PydanticObjectId.is_valid(checkout.booking_id):
        return "ignored", "not a Holdfast checkout"
    payment = await Payment.find_one(Payment.booking_id == PydanticObjectId(checkout.booking_id))
    if payment is None:
        raise NotYetVisible(f"no payment yet for booking {checkout.booking_id}")
    if (judged := _judge(checkout, payment)) is not None:
        return judged
    booking = await Booking.get(payment.booking_id)
    if booking is None:
        raise NotYetVisible(f"booking {payment.booking_id} not visible yet")
    note = {"by": by, "payment_intent_id": checkout.payment_intent}
    if booking.status not in BOOKING_MOVES:  # cancelled while Checkout was open
        return await _paid_too_late(ctx, payment, note)
    service, _ = await ctx.catalog.service_with_providers(str(booking.service_id))

    async def confirm(session: Session) -> list[Job]:
        now = ctx.now()
        if not await advance(session, payment, "paid", now, **note):
            return []
        if booking.status == "expired":
            await claim(session, booking)  # paid late: kept only if its time is still free
        await _move_booking(session, booking, "confirmed", now, "paid")
        change = followups.Change("confirmed", booking, now, service)
        return await followups.follow(session, change)

    try:
        jobs = await transact(ctx.mongo, confirm)
    except Collision:
        # The aborted transaction changed nothing; the copy in memory was moved: read again.
        return await _paid_too_late(ctx, await Payment.get(payment.id) or payment, note)
    push_due(ctx, jobs)
    if jobs:
        await ctx.events.publish(followups.booking_event("booking-updated", booking))
    return "processed", None


def _judge(checkout: Checkout, payment: Payment) -> Outcome | None:
    """What a checkout comes to without acting on it, if that is all there is to it."""
    if checkout.payment_status != "paid":
        return "ignored", f"checkout {checkout.payment_status}, not paid"
    if (checkout.amount_total, checkout.currency) != (payment.amount_cents, payment.currency):
        log.error("payments.amount_mismatch", payment_id=str(payment.id), checkout=checkout.id)
        return "rejected", "the amount paid is not the booking's price"
    if payment.status not in ("pending", "expired", "failed"):
        return "processed", f"already {payment.status}"
    return None


async def _paid_too_late(ctx: Context, payment: Payment, note: dict[str, Any]) -> Outcome:
    """Paid after the hold lapsed and its time went to someone else (or the booking was
    cancelled meanwhile): recorded as paid, and refunded in full by a durable job written in
    the same transaction; the booking stays as it is."""

    async def record_late(session: Session) -> list[Job]:
        now = ctx.now()
        if not await advance(session, payment, "paid", now, late=True, **note):
            return []
        owed = refund_job(payment, now, amount=payment.amount_cents, why="late")
        return await schedule_all(session, [owed])

    push_due(ctx, await transact(ctx.mongo, record_late))
    log.warning("payments.paid_after_lapse", payment_id=str(payment.id))
    return "processed", "paid after the hold lapsed and its time was gone: refunded"


# --- Refunds -----------------------------------------------------------------------------------


def recorded(payment: Payment, refund_id: str) -> bool:
    return any(
        refund_id == entry.get("refund_id") or refund_id in entry.get("refund_ids", ())
        for entry in payment.history
    )


async def add_refunded(
    session: Session, payment: Payment, amount: int, now: datetime, **note: Any
) -> bool:
    """Record `amount` more refunded: the payment is refunded once all of it is."""
    refunded = payment.refunded_cents + amount
    to: PaymentStatus = "refunded" if refunded >= payment.amount_cents else "partially_refunded"
    # The entry names this refund's own amount (revenue sums them) and the running total.
    return await advance(
        session, payment, to, now, refunded_cents=refunded, refund_cents=amount, **note
    )


async def settle_refunds(ctx: Context, payment_intent: str, by: str) -> Outcome:
    """`charge.refunded`: the refunds Stripe has for the payment (asked again, so a refund
    made in Stripe's dashboard is counted too) that Holdfast has not recorded yet."""
    payment = await Payment.find_one(Payment.payment_intent_id == payment_intent)
    if payment is None:
        return "ignored", "not a Holdfast payment"
    made = await api.refunds_of(ctx.settings, payment_intent)
    new = [r for r in made if r.status == "succeeded" and not recorded(payment, r.id)]
    if not new:
        return "processed", "every refund already recorded"

    async def record_new(session: Session) -> bool:
        amount = sum(r.amount for r in new)
        ids = [r.id for r in new]
        return await add_refunded(session, payment, amount, ctx.now(), refund_ids=ids, by=by)

    if not await transact(ctx.mongo, record_new):
        raise Raced(f"payment {payment.id} changed while recording refunds")
    return "processed", None


async def refund(ctx: Context, payment_id: str, amount: int, why: str) -> Job | None:
    """Refund at Stripe (once: the key is this refund's), then record it; a run killed after
    Stripe answered asks again with the same key and gets the same refund back."""
    payment = await Payment.get(PydanticObjectId(payment_id))
    if payment is None or payment.payment_intent_id is None:
        return None
    if any(entry.get("refund_key") == why for entry in payment.history):
        return None  # recorded by an earlier run
    made = await api.refund(
        ctx.settings,
        payment_intent=payment.payment_intent_id,
        amount=amount,
        key=f"holdfast-refund-{payment.id}-{why}",
    )

    async def record_refund(session: Session) -> Job | None:
        now = ctx.now()
        current = await Payment.get(payment.id, session=session)
        if current is None:
            return None
        # Unless `charge.refunded` got here first and recorded this very refund.
        if not recorded(current, made.id):
            note = {"refund_id": made.id, "refund_key": why}
            if not await add_refunded(session, current, made.amount, now, **note):
                raise Raced(f"payment {payment.id} changed while refunding")
        told = new_job(
            kind=TELL_REFUND,
            subject=f"refund:{payment.id}:{why}",
            run_at=now,
            now=now,
            payload={"payment_id": str(payment.id), "amount": made.amount, "why": why},
        )
        return (await schedule_all(session, [told]))[0]

    told = await transact(ctx.mongo, record_refund)
    if told is not None:
        push_due(ctx, [told])
    return told


async def refund_as_admin(ctx: Context, payment_id: str, amount: int | None) -> Payment:
    """An admin's refund of part or all of what is left of a payment, made by a durable job.
    The same request twice (a double click) names the same refund: one job, one Stripe key."""
    payment = await Payment.get(object_id(payment_id, "payment"))
    if payment is None:
        raise NotFound(f"There is no payment with id {payment_id}.", code="payment_not_found")
    remaining = payment.refundable_cents
    if remaining <= 0:
        raise NotRefundable(f"This payment is {payment.status}: there is nothing to refund.")
    if payment.method is not None:
        raise NotRefundable(
            "This payment was made at the practice, not online: give the money back the way it "
            "was paid."
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise Invalid(
            f"At most {remaining} cents of this payment can still be refunded.",
            code="refund_too_large",
        )
    why = f"admin:{payment.refunded_cents}:{amount}"
    push_due(
        ctx, await schedule_all(None, [refund_job(payment, ctx.now(), amount=amount, why=why)])
    )
    return payment


# --- Letting a hold go -------------------------------------------------------------------------


async def lapse(
    ctx: Context,
    booking_id: PydanticObjectId,
    *,
    why: str,
    at_stripe: bool = True,
    to: PaymentStatus = "expired",
) -> bool:
    """Let an unpaid hold go: close its Checkout Session at Stripe first (so it can no longer
    be paid; one paid meanwhile is confirmed instead), then expire the booking, free its time
    and end the payment (`to`: expired, or failed) in one transaction. True if this call let
    it go."""
    payment = await Payment.find_one(Payment.booking_id == booking_id)
    if payment is None or payment.status != "pending":
        return False
    if at_stripe and payment.checkout_session_id:
        checkout = await api.expire_checkout(ctx.settings, payment.checkout_session_id)
        if checkout.payment_status == "paid":
            await settle_checkout(ctx, checkout, by="hold lapse")
            return False
    booking = await Booking.get(booking_id)
    if booking is None:
        return False
    held = booking.status == "pending_payment"  # else already cancelled: only the payment ends

    async def expire(session: Session) -> list[Job] | None:
        now = ctx.now()
        if not await advance(session, payment, to, now, by=why):
            return None
        if not held:
            return []
        await _move_booking(session, booking, "expired", now, "expired")
        await release(session, booking)
        return await followups.follow(session, followups.Change("expired", booking, now))

    jobs = await transact(ctx.mongo, expire)
    if jobs is None:
        return False
    push_due(ctx, jobs)
    if held:
        await ctx.events.publish(followups.booking_event("booking-cancelled", booking))
    return True


async def end_unpaid(ctx: Context, checkout: Checkout, to: PaymentStatus, by: str) -> Outcome:
    """Stripe says a Checkout ended unpaid (it expired, or a delayed payment failed): the
    hold is let go now instead of at its lapse. A Checkout Stripe has as paid is left to the
    paid event."""
    if checkout.booking_id is None or not PydanticObjectId.is_valid(checkout.booking_id):
        return "ignored", "not a Holdfast checkout"
    if checkout.payment_status == "paid":
        return "ignored", "the checkout is paid"
    if to == "expired" and checkout.status != "expired":
        return "ignored", f"checkout {checkout.status}, not expired"
    payment = await Payment.find_one(Payment.booking_id == PydanticObjectId(checkout.booking_id))
    if payment is None:
        raise NotYetVisible(f"no payment yet for booking {checkout.booking_id}")
    if payment.status != "pending":
        return "processed", f"already {payment.status}"
    ended = await lapse(ctx, payment.booking_id, why=by, at_stripe=False, to=to)
    return "processed", None if ended else "settled meanwhile"


async def reconcile(ctx: Context, *, grace: timedelta, limit: int = 100) -> int:
    """Settle payments still pending `grace` after their hold ended (their hold job lost or
    dead): each is asked about at Stripe, and confirmed if paid, let go otherwise. How many."""
    stuck = Payment.find({"status": "pending", "hold_until": {"$lt": ctx.now() - grace}})
    settled = 0
    for payment in await stuck.sort("hold_until").limit(limit).to_list():
        await lapse(ctx, payment.booking_id, why="reconciled")
        settled += 1
    return settled


# --- Reading -----------------------------------------------------------------------------------


async def list_payments(
    page: PageRequest, *, user: User | None, status: PaymentStatus | None = None
) -> Page[Payment]:
    """Payments, the newest first: a user's own, or (no user) everyone's for the admin; of one
    status if asked (the console's "due": to be paid at the practice)."""
    mine: dict[str, Any] = {"user_id": user.id} if user is not None else {}
    if status is not None:
        mine["status"] = status
    segment = Segment(mine, (("created_at", -1), ("_id", -1)))
    listing = f"payments:{user.id if user is not None else 'all'}:{status}"
    return await read_page(Payment, [segment], page, listing=listing)
