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

from beanie import PydanticObjectId
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.payments import service
from holdfast.payments.followups import EXPIRE_HOLD
from holdfast.payments.service import Outcome
from holdfast.payments.stripe import api

SOURCE = "stripe"
EventHandler = Callable[[Context, dict[str, Any], str], Awaitable[Outcome]]


async def checkout_paid(ctx: Context, event: dict[str, Any], event_id: str) -> Outcome:
    session_id = str(((event.get("data") or {}).get("object") or {}).get("id") or "")
    if not session_id.startswith("cs_"):
        return "rejected", "the event names no Checkout Session"
    checkout = await api.read_checkout(ctx.settings, session_id)
    return await service.settle_checkout(ctx, checkout, by=f"stripe:{event_id}")


# Stripe's event types Holdfast acts on; every other type is stored and ignored.
HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": checkout_paid,
    "checkout.session.async_payment_succeeded": checkout_paid,
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


async def expire_hold(ctx: Context, job: Job) -> None:
    await service.lapse(ctx, PydanticObjectId(str(job.payload["booking_id"])), why="hold lapsed")


def kinds(timeout: timedelta) -> list[JobKind]:
    # A Checkout completed before its booking's own commit is visible is retried soon.
    quick = timedelta(seconds=2)
    return [
        JobKind(inbox.job_kind(SOURCE), process_delivery, timeout=timeout, backoff_base=quick),
        JobKind(EXPIRE_HOLD, expire_hold, timeout=timeout, backoff_base=quick),
    ]
