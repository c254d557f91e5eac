"""Durable jobs of the payments domain: Stripe's deliveries, and holds that lapse.

Stripe's events are acted on by type through one table; the Checkout Session is read again
from Stripe before anything is decided, so a forged or stale body never moves money or
bookings. Every handler is safe to run again: the moves are conditional, and the delivery is
settled last.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from beanie import PydanticObjectId
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.notifications.compose import account_url, message, render_text
from holdfast.notifications.delivery import send_once
from holdfast.notifications.handlers import MissingRecord, booking_facts
from holdfast.notifications.timefmt import local_label
from holdfast.payments import service
from holdfast.payments.followups import EXPIRE_HOLD, REFUND
from holdfast.payments.models import Payment, PaymentStatus
from holdfast.payments.service import Outcome
from holdfast.payments.stripe import api
from holdfast.payments.stripe.api import Checkout

SOURCE = "stripe"
RECONCILE = "payments.reconcile"
# How often, and how long after its hold ended, a payment still pending is asked about.
RECONCILE_EVERY = timedelta(minutes=10)
log = structlog.get_logger(__name__)
EventHandler = Callable[[Context, dict[str, Any], str], Awaitable[Outcome]]


def _object(event: dict[str, Any]) -> dict[str, Any]:
    """What the event is about (`data.object`), as the body has it."""
    found = (event.get("data") or {}).get("object")
    return found if isinstance(found, dict) else {}


async def _checkout(event: dict[str, Any], ctx: Context) -> Checkout | None:
    """The event's Checkout Session as Stripe has it now (None: the event names none)."""
    session_id = str(_object(event).get("id") or "")
    if not session_id.startswith("cs_"):
        return None
    return await api.read_checkout(ctx.settings, session_id)


async def checkout_paid(ctx: Context, event: dict[str, Any], event_id: str) -> Outcome:
    if (checkout := await _checkout(event, ctx)) is None:
        return "rejected", "the event names no Checkout Session"
    return await service.settle_checkout(ctx, checkout, by=f"stripe:{event_id}")


async def checkout_failed(ctx: Context, event: dict[str, Any], event_id: str) -> Outcome:
    return await _checkout_ended(ctx, event, event_id, "failed")


async def checkout_expired(ctx: Context, event: dict[str, Any], event_id: str) -> Outcome:
    return await _checkout_ended(ctx, event, event_id, "expired")


async def _checkout_ended(
    ctx: Context, event: dict[str, Any], event_id: str, to: PaymentStatus
) -> Outcome:
    if (checkout := await _checkout(event, ctx)) is None:
        return "rejected", "the event names no Checkout Session"
    return await service.end_unpaid(ctx, checkout, to, by=f"stripe:{event_id}")


async def charge_refunded(ctx: Context, event: dict[str, Any], event_id: str) -> Outcome:
    intent = _object(event).get("payment_intent")
    if not isinstance(intent, str) or not intent.startswith("pi_"):
        return "rejected", "the event names no PaymentIntent"
    return await service.settle_refunds(ctx, intent, by=f"stripe:{event_id}")


# Stripe's event types Holdfast acts on; every other type is stored and ignored.
HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": checkout_paid,
    "checkout.session.async_payment_succeeded": checkout_paid,
    "checkout.session.async_payment_failed": checkout_failed,
    "checkout.session.expired": checkout_expired,
    "charge.refunded": charge_refunded,
}


async def process_delivery(ctx: Context, job: Job) -> None:
    delivery = await inbox.pending(job)
    if delivery is None:
        return  # already decided
    handler = HANDLERS.get(delivery.kind)
    if handler is None:
        await inbox.settle(delivery, "ignored", ctx.now(), reason="not an event Holdfast acts on")
        return
    status, reason = await handler(ctx, delivery.payload, delivery.key)
    await inbox.settle(delivery, status, ctx.now(), reason=reason)


async def refund(ctx: Context, job: Job) -> None:
    payload = job.payload
    await service.refund(ctx, str(payload["payment_id"]), int(payload["amount"]), payload["why"])


async def tell_refund(ctx: Context, job: Job) -> None:
    """The client hears that (and how much) their late payment was refunded."""
    payment = await Payment.get(PydanticObjectId(str(job.payload["payment_id"])))
    if payment is None:
        return  # gone (retention): nobody to tell
    try:
        facts = await booking_facts(ctx, str(payment.booking_id))
    except MissingRecord:
        return
    booking, user, offered = facts.booking, facts.client, facts.service
    amount = f"{int(job.payload['amount']) / 100:.2f} {payment.currency}"
    variables = {
        "name": user.name,
        "amount": amount,
        "service": offered.name,
        "when": local_label(booking.start, user.timezone),
        "late": job.payload.get("why") == "late",
        "taken": booking.status == "expired",
        "account_url": account_url(ctx),
    }
    body = render_text("payment_refunded.txt", variables)
    await send_once(
        ctx,
        message(
            "email",
            user.email,
            f"Refunded: {amount} for {offered.name}",
            body,
            job_id=job.id,
            template="payment_refunded",
            now=ctx.now(),
            booking_id=str(booking.id),
        ),
        job.claim_token,
    )


async def expire_hold(ctx: Context, job: Job) -> None:
    await service.lapse(ctx, PydanticObjectId(str(job.payload["booking_id"])), why="hold lapsed")


async def reconcile(ctx: Context, job: Job) -> None:
    settled = await service.reconcile(ctx, grace=RECONCILE_EVERY)
    if settled:
        log.warning("payments.reconciled", settled=settled)


def kinds(timeout: timedelta) -> list[JobKind]:
    # A Checkout completed before its booking's own commit is visible is retried soon.
    quick = timedelta(seconds=2)
    return [
        JobKind(inbox.job_kind(SOURCE), process_delivery, timeout=timeout, backoff_base=quick),
        JobKind(EXPIRE_HOLD, expire_hold, timeout=timeout, backoff_base=quick),
        JobKind(REFUND, refund, timeout=timeout, backoff_base=quick),
        JobKind(service.TELL_REFUND, tell_refund, timeout=timeout, backoff_base=quick),
        JobKind(RECONCILE, reconcile, timeout=timeout, every=RECONCILE_EVERY),
    ]
