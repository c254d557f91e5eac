"""Durable jobs of the Calendly domain: process a delivery, cancel at Calendly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import structlog
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.bookings.service import SlotTaken, book_slot, cancel_as
from holdfast.calendly import tokens
from holdfast.calendly.models import CalendlyDelivery, IntakeStatus
from holdfast.calendly.service import (
    consume,
    event_uri,
    host_of,
    previous_booking,
    scheduled_event_uuid,
    start_of,
)
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.jobs.service import push_due, schedule

log = structlog.get_logger(__name__)


class CalendlyApiError(Exception):
    """Calendly's API refused or could not be reached; the job retries."""


async def _mark(
    delivery: CalendlyDelivery,
    status: IntakeStatus,
    reason: str | None = None,
    booking: Booking | None = None,
) -> None:
    await CalendlyDelivery.get_pymongo_collection().update_one(
        {"_id": delivery.id},
        {
            "$set": {
                "status": status,
                "reason": reason,
                "booking_id": booking.id if booking else None,
            }
        },
    )


async def process_delivery(ctx: Context, job: Job) -> None:
    delivery = await CalendlyDelivery.get(str(job.payload["delivery_id"]))
    if delivery is None or delivery.status != "received":
        return  # already decided
    if delivery.event == "invitee.created":
        await _created(ctx, delivery)
    else:
        await _canceled(ctx, delivery)


async def _bind(ctx: Context, delivery: CalendlyDelivery) -> tuple[User, str, Booking | None]:
    """Whose booking this is, and of which service: a reschedule stays with the person of the
    original booking; anything else needs a valid, unused "Book now" token."""
    payload = delivery.payload["payload"]
    earlier = await previous_booking(payload)
    if earlier is not None:
        user, service_id = await User.get(earlier.user_id), str(earlier.service_id)
    else:
        claims = tokens.read(
            payload.get("tracking", {}).get("utm_content"),
            secret=ctx.settings.secret_key.get_secret_value(),
            now=ctx.now(),
        )
        await consume(claims.jti, delivery.invitee_uri, ctx.now())
        user, service_id = await User.get(PydanticObjectId(claims.user_id)), claims.service_id
    if user is None:
        raise tokens.TokenRejected("the token's user no longer exists")
    return user, service_id, earlier


async def _created(ctx: Context, delivery: CalendlyDelivery) -> None:
    payload = delivery.payload["payload"]
    try:
        user, service_id, earlier = await _bind(ctx, delivery)
        _, offering = await ctx.catalog.service_with_providers(service_id)
        provider = host_of(payload, offering)
        if provider is None:
            raise tokens.TokenRejected("no Holdfast provider hosts this Calendly event")
        booking = await book_slot(
            ctx,
            user_id=user.id,  # type: ignore[arg-type]
            service_id=service_id,
            provider_id=str(provider.id),
            start=start_of(payload),
            actor="calendly",
            source="calendly",
            request_key=f"calendly:{delivery.invitee_uri}",
            offered_only=False,  # Calendly's own availability chose the time; the guard still holds
            external={
                "calendly_event_uri": event_uri(payload),
                "calendly_invitee_uri": delivery.invitee_uri,
            },
            history={
                "calendly_invitee": delivery.invitee_uri,
                **({"rescheduled_from": str(earlier.id)} if earlier else {}),
            },
        )
    except SlotTaken:
        await reject(ctx, delivery, "collides with an existing booking")
        return
    except DomainError as exc:  # e.g. a start in the past, an unknown provider
        await reject(ctx, delivery, exc.detail)
        return
    except tokens.TokenRejected as exc:
        await reject(ctx, delivery, str(exc))
        return
    await _mark(delivery, "booked", booking=booking)
    if earlier is not None:
        await cancel_as(
            ctx,
            earlier,
            actor="calendly",
            reason="rescheduled in Calendly",
            data={"rescheduled_to": str(booking.id)},
        )
    if await CalendlyDelivery.get(f"invitee.canceled:{delivery.invitee_uri}"):
        # The cancel overtook its create: the booking ends cancelled, and the story says why.
        await cancel_as(ctx, booking, actor="calendly", reason="cancelled in Calendly")


async def _canceled(ctx: Context, delivery: CalendlyDelivery) -> None:
    booking = await Booking.find_one(Booking.calendly_invitee_uri == delivery.invitee_uri)
    payload = delivery.payload["payload"]
    if booking is None:
        # Its create has not been processed (or was rejected): that create will see this record.
        await _mark(delivery, "cancelled", "no booking yet")
        return
    rescheduled = bool(payload.get("rescheduled"))
    reason = (
        "rescheduled in Calendly"
        if rescheduled
        else (payload.get("cancellation", {}) or {}).get("reason") or "cancelled in Calendly"
    )
    if not rescheduled:
        await cancel_as(ctx, booking, actor="calendly", reason=str(reason))
    # A reschedule's old booking is cancelled by the new invitee's create, which links the two.
    await _mark(delivery, "cancelled", booking=booking)


async def reject(ctx: Context, delivery: CalendlyDelivery, reason: str) -> None:
    """Outside policy: recorded, cancelled at Calendly, and the invitee told how to book."""
    payload = delivery.payload["payload"]
    now = ctx.now()
    event = event_uri(payload)

    async def work(session: Session) -> list[Job]:
        await CalendlyDelivery.get_pymongo_collection().update_one(
            {"_id": delivery.id, "status": "received"},
            {"$set": {"status": "rejected", "reason": reason}},
            session=session,
        )
        subject = f"calendly:{delivery.id}"
        return [
            await schedule(
                session,
                kind="calendly.cancel",
                subject=subject,
                run_at=now,
                now=now,
                payload={"event_uri": event, "reason": reason},
            ),
            await schedule(
                session,
                kind="notify.calendly_rejected",
                subject=subject,
                run_at=now,
                now=now,
                payload={
                    "email": payload.get("email"),
                    "name": payload.get("name") or "there",
                    "reason": reason,
                },
            ),
        ]

    jobs = await transact(ctx.mongo, work)
    log.info("calendly.rejected", invitee=delivery.invitee_uri, reason=reason)
    push_due(ctx, jobs)


async def cancel_at_calendly(ctx: Context, job: Job) -> None:
    """POST /scheduled_events/{uuid}/cancellation; an event already cancelled counts as done."""
    token = ctx.settings.calendly_token
    uuid = scheduled_event_uuid(str(job.payload["event_uri"]))
    url = f"{ctx.settings.calendly_api_url.rstrip('/')}/scheduled_events/{uuid}/cancellation"
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    reason = f"Outside Holdfast's booking policy: {job.payload['reason']}."
    body: dict[str, Any] = {"reason": f"{reason} Please book through Holdfast."}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise CalendlyApiError(f"Calendly unreachable: {exc}") from exc
    already = response.status_code in (403, 404) and "cancel" in response.text.lower()
    if response.status_code >= 300 and not already:
        raise CalendlyApiError(f"Calendly answered {response.status_code}: {response.text[:200]}")


def kinds(job_timeout: timedelta) -> list[JobKind]:
    return [
        JobKind("calendly.process", process_delivery, max_attempts=8, timeout=job_timeout),
        JobKind(
            "calendly.cancel",
            cancel_at_calendly,
            max_attempts=12,
            timeout=job_timeout,
            backoff_base=timedelta(seconds=5),
        ),
    ]
