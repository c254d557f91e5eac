"""Durable jobs of the Calendly domain: process a delivery, cancel at Calendly.

Processing is safe to run again from any point. It first looks for what an earlier run did (a
booking already made or moved for this invitee), every step after that is a no-op the second
time, and the delivery is marked decided last, conditionally: a failure anywhere before the mark
leaves the delivery to the job's retry, which finishes the work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import structlog
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.bookings.moves import move_booking
from holdfast.bookings.service import SlotTaken, book_slot, cancel_as
from holdfast.calendly import tokens
from holdfast.calendly.models import CalendlyDelivery, IntakeStatus
from holdfast.calendly.service import (
    booked_at,
    cancel_reason,
    consume,
    event_uri,
    host_of,
    interval_of,
    scheduled_event_uuid,
)
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.jobs.service import push_due, schedule

log = structlog.get_logger(__name__)
ACTOR = "calendly"
# The booking path's answers that are a verdict on this booking. Anything else (the database
# unavailable, a timeout) says nothing about it: the job fails and is retried.
REFUSALS = frozenset({ErrorKind.INVALID, ErrorKind.NOT_FOUND, ErrorKind.CONFLICT})


class CalendlyApiError(Exception):
    """Calendly's API refused or could not be reached; the job retries."""


class Refused(Exception):
    """Outside policy; the message is the reason recorded and sent to the invitee."""


class ReplacedNotYetBooked(Exception):
    """A reschedule arrived before the booking it replaces was processed; the job retries."""


async def _mark(
    delivery: CalendlyDelivery,
    status: IntakeStatus,
    reason: str | None = None,
    booking: Booking | None = None,
) -> None:
    # Only a delivery still undecided: a decision (a rejection, a concurrent run's mark) stands.
    await CalendlyDelivery.get_pymongo_collection().update_one(
        {"_id": delivery.id, "status": "received"},
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


async def _created(ctx: Context, delivery: CalendlyDelivery) -> None:
    # An earlier run may have booked (or moved) for this invitee and failed before the mark.
    booking = await Booking.find_one(Booking.calendly_invitee_uri == delivery.invitee_uri)
    if booking is None:
        try:
            booking = await _book(ctx, delivery)
        except Refused as exc:
            await reject(ctx, delivery, str(exc))
            return
    cancel = await CalendlyDelivery.get(f"invitee.canceled:{delivery.invitee_uri}")
    if cancel is not None and not cancel.payload["payload"].get("rescheduled"):
        # The cancel overtook its create: the booking ends cancelled, and the story says why.
        reason = cancel_reason(cancel.payload["payload"])
        await cancel_as(ctx, booking, actor=ACTOR, reason=reason, from_calendly=True)
    await _mark(delivery, "booked", booking=booking)


async def _book(ctx: Context, delivery: CalendlyDelivery) -> Booking:
    """Move the booking this invitee reschedules, or book for the holder of a valid "Book now"
    token; `Refused` when that is outside policy."""
    payload = delivery.payload["payload"]
    try:
        earlier = await _replaced(payload)
        if earlier is not None:
            return await _move(ctx, delivery, earlier)
        return await _book_new(ctx, delivery)
    except SlotTaken:
        raise Refused("collides with an existing booking") from None
    except DomainError as exc:
        if exc.kind not in REFUSALS:
            raise
        raise Refused(exc.detail) from None
    except tokens.TokenRejected as exc:
        raise Refused(str(exc)) from None


async def _replaced(payload: dict[str, Any]) -> Booking | None:
    """The booking a reschedule replaces: it stays the same person's booking, moved."""
    old = payload.get("old_invitee")
    if not isinstance(old, str):
        return None
    earlier = await Booking.find_one(Booking.calendly_invitee_uri == old)
    if earlier is None:
        replaced = await CalendlyDelivery.get(f"invitee.created:{old}")
        if replaced is not None and replaced.status == "received":
            raise ReplacedNotYetBooked(f"{old} is not processed yet")
    return earlier


def _links(delivery: CalendlyDelivery) -> dict[str, str]:
    payload = delivery.payload["payload"]
    return {"calendly_event_uri": event_uri(payload), "calendly_invitee_uri": delivery.invitee_uri}


async def _move(ctx: Context, delivery: CalendlyDelivery, earlier: Booking) -> Booking:
    payload = delivery.payload["payload"]
    start, end = interval_of(payload)
    _, offering = await ctx.catalog.service_with_providers(str(earlier.service_id))
    provider = host_of(payload, offering)
    if provider is None:
        raise Refused("no Holdfast provider hosts this Calendly event")
    return await move_booking(
        ctx,
        earlier,
        start=start,
        end=end,
        provider_id=str(provider.id),
        actor=ACTOR,
        offered_only=False,  # Calendly's own availability chose the time; the guard still holds
        calendar_checked=True,  # and Calendly reads the host's calendar itself
        external=_links(delivery),
        history={
            "calendly_invitee": delivery.invitee_uri,
            "rescheduled_from": earlier.calendly_invitee_uri,
        },
    )


async def _book_new(ctx: Context, delivery: CalendlyDelivery) -> Booking:
    payload = delivery.payload["payload"]
    user, service_id = await _holder(ctx, delivery)
    service, offering = await ctx.catalog.service_with_providers(service_id)
    provider = host_of(payload, offering)
    if provider is None:
        raise Refused("no Holdfast provider hosts this Calendly event")
    start, end = interval_of(payload)
    if end is not None and end - start != timedelta(minutes=service.duration_minutes):
        # The meeting takes place for as long as Calendly scheduled it, so that is what is
        # claimed (a shorter claim would let Holdfast sell the rest of it); the event type and
        # the service disagree, which the practice should hear of.
        log.warning("calendly.length_differs", invitee=delivery.invitee_uri, service=service_id)
    return await book_slot(
        ctx,
        user_id=user.id,  # type: ignore[arg-type]
        service_id=service_id,
        provider_id=str(provider.id),
        start=start,
        end=end,
        actor=ACTOR,
        source="calendly",
        request_key=f"calendly:{delivery.invitee_uri}",
        offered_only=False,  # Calendly's own availability chose the time; the guard still holds
        calendar_checked=True,  # and Calendly reads the host's calendar itself
        external=_links(delivery),
        history={"calendly_invitee": delivery.invitee_uri},
    )


async def _holder(ctx: Context, delivery: CalendlyDelivery) -> tuple[User, str]:
    """Whose booking this is, and of which service: a valid, unused "Book now" token says so.

    Its expiry is judged at the moment the invitee booked (`booked_at`), not when this job
    runs: a backlog, a deploy or a retry's backoff must not turn a valid booking away."""
    payload = delivery.payload["payload"]
    at = booked_at(delivery)
    claims = tokens.read(
        (payload.get("tracking") or {}).get("utm_content"),
        secret=ctx.settings.secret_key.get_secret_value(),
        now=at,
    )
    await consume(claims.jti, delivery.invitee_uri, at=at, now=ctx.now())
    user = await User.get(PydanticObjectId(claims.user_id))
    if user is None:
        raise tokens.TokenRejected("the token's user no longer exists")
    return user, claims.service_id


async def _canceled(ctx: Context, delivery: CalendlyDelivery) -> None:
    payload = delivery.payload["payload"]
    rescheduled = bool(payload.get("rescheduled"))
    booking = await Booking.find_one(Booking.calendly_invitee_uri == delivery.invitee_uri)
    if booking is None and rescheduled and isinstance(payload.get("new_invitee"), str):
        # Already moved to the new invitee; this record only links the two.
        booking = await Booking.find_one(Booking.calendly_invitee_uri == payload["new_invitee"])
    if booking is not None and not rescheduled:
        await cancel_as(
            ctx, booking, actor=ACTOR, reason=cancel_reason(payload), from_calendly=True
        )
    # No booking: its create has not been processed (or was refused); that create sees this
    # record. A reschedule's booking is moved by the new invitee's create, not cancelled.
    await _mark(delivery, "cancelled", None if booking else "no booking yet", booking)


async def reject(ctx: Context, delivery: CalendlyDelivery, reason: str) -> None:
    """Outside policy: recorded, cancelled at Calendly, and the invitee told how to book."""
    payload = delivery.payload["payload"]
    now = ctx.now()
    event = event_uri(payload)

    async def work(session: Session) -> list[Job]:
        decided = await CalendlyDelivery.get_pymongo_collection().update_one(
            {"_id": delivery.id, "status": "received"},
            {"$set": {"status": "rejected", "reason": reason}},
            session=session,
        )
        if decided.modified_count == 0:
            return []  # decided meanwhile by another run: its jobs exist, or none are due
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
    """POST /scheduled_events/{uuid}/cancellation; an event already cancelled counts as done.

    Two callers: a booking outside policy (`reason`), and a booking cancelled in Holdfast
    (`message`, written by the cancellation's own transaction)."""
    token = ctx.settings.calendly_token
    uuid = scheduled_event_uuid(str(job.payload["event_uri"]))
    url = f"{ctx.settings.calendly_api_url.rstrip('/')}/scheduled_events/{uuid}/cancellation"
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    message = job.payload.get("message") or (
        f"Outside Holdfast's booking policy: {job.payload['reason']}. Please book through Holdfast."
    )
    body: dict[str, Any] = {"reason": message}
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
