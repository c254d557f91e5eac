"""The generic cancellation webhook (`POST /webhooks/cancellations`): a scheduling platform
tells us an appointment was cancelled. Verified (`X-Signature: sha256=<hex HMAC-SHA256 of the
raw body>`), stored raw once in the webhook inbox and acknowledged; the inbox's job
(`inbox.cancellations`) then cancels the Holdfast booking it names, or opens the freed time of
a provider and service named by their `external_ids` for the waitlist."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from holdfast.bookings.models import Booking
from holdfast.bookings.service import cancel_as
from holdfast.catalog.models import Provider, Service
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind
from holdfast.inbox import service as inbox
from holdfast.inbox.models import Delivery
from holdfast.inbox.signature import SignatureInvalid
from holdfast.jobs.models import Job
from holdfast.jobs.service import push_due, schedule_all
from holdfast.waitlist.followups import chain_start
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

SOURCE = "cancellations"
CANCELLED = frozenset({"appointment.cancelled", "appointment.canceled"})


class WebhookDisabled(DomainError):
    kind, code = ErrorKind.NOT_FOUND, "webhook_disabled"


# Signed without a timestamp (unlike Calendly's and Stripe's `t=…,v1=…`), so
# `holdfast.inbox.signature.verify` does not apply; its error (403 invalid_signature) does.
def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify(key: str, header: str | None, body: bytes) -> None:
    if not header:
        raise SignatureInvalid("The X-Signature header is missing.")
    # Compared as bytes: a header with characters outside ASCII is a mismatch, not a crash.
    given = header.strip().lower().encode("utf-8", errors="replace")
    if not hmac.compare_digest(sign(key, body).encode(), given):
        raise SignatureInvalid("The signature does not match the body.")


async def receive(ctx: Context, header: str | None, body: bytes) -> bool:
    """Verify, store raw once, acknowledge: True if this delivery was new."""
    key = ctx.settings.webhook_signing_key
    if key is None:
        raise WebhookDisabled("The cancellation webhook is not configured here.")
    verify(key.get_secret_value(), header, body)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):  # signed by the sender, so kept to be seen and rejected
        payload = {"raw": body.decode("utf-8", errors="replace")[:10_000]}
    # The sender's event id if it gives one; else the body's hash (a resent body is one event).
    event_id = payload.get("event_id") or payload.get("id")
    delivery_key = str(event_id)[:200] if event_id else hashlib.sha256(body).hexdigest()
    kind = str(payload.get("event_type", "unknown"))[:100]
    return await inbox.store(ctx, source=SOURCE, key=delivery_key, kind=kind, payload=payload)


class CancelledAppointment(BaseModel):
    appointment_id: str = Field(min_length=1, max_length=200)
    calendar_id: str | None = Field(default=None, max_length=200)
    service_id: str | None = Field(default=None, max_length=200)
    start_time: AwareDatetime
    end_time: AwareDatetime | None = None


class CancellationEvent(BaseModel):
    event_type: str
    data: CancelledAppointment


async def _holdfast_booking(appointment_id: str) -> Booking | None:
    try:
        return await Booking.get(PydanticObjectId(appointment_id))
    except (InvalidId, TypeError, ValueError):
        return None


async def process_cancellation(ctx: Context, job: Job) -> None:
    """Decide one stored delivery (once: settled last, after work that is safe to redo)."""
    delivery = await inbox.pending(job)
    if delivery is None:
        return
    now = ctx.now()
    try:
        event = CancellationEvent.model_validate(delivery.payload)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        await inbox.settle(delivery, "rejected", now, reason=f"not a cancellation event ({why})")
        return
    if event.event_type not in CANCELLED:
        await inbox.settle(delivery, "ignored", now, reason=f"event type {event.event_type}")
        return
    data = event.data
    booking = await _holdfast_booking(data.appointment_id)
    if booking is not None:
        # A Holdfast booking: cancelled like any other, and its freed time starts the chain
        # through the booking's own followups (the same chain as the API's cancel would start).
        await cancel_as(ctx, booking, actor="webhook:cancellations", reason="cancelled by the "
                        "scheduling platform", data={"delivery": delivery.id})  # fmt: skip
        await inbox.settle(delivery, "processed", now, result={"booking_id": str(booking.id)})
        return
    await _open_foreign(ctx, delivery, data, now)


async def _open_foreign(
    ctx: Context, delivery: Delivery, data: CancelledAppointment, now: datetime
) -> None:
    provider = await Provider.find_one({"external_ids": data.calendar_id})
    service = await Service.find_one({"external_ids": data.service_id})
    reason = None
    if provider is None:
        reason = f"calendar_id {data.calendar_id!r} is no provider's external id"
    elif service is None:
        reason = f"service_id {data.service_id!r} is no service's external id"
    elif provider.id not in service.provider_ids:
        reason = f"{provider.name} does not offer {service.name}"
    if reason or provider is None or service is None:
        await inbox.settle(delivery, "rejected", now, reason=reason)
        return
    job = chain_start(
        freed_by=f"external:{provider.id}:{data.appointment_id}",
        provider_id=str(provider.id),
        service_id=str(service.id),
        start=as_utc(data.start_time),
        now=delivery.received_at,
        source="webhook",
    )
    push_due(ctx, await schedule_all(None, [job]))
    await inbox.settle(delivery, "processed", now, result={"opening_id": job.payload["opening_id"]})
