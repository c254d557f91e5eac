"""Book now, webhook intake, and turning Calendly deliveries into bookings (or rejections).

A Calendly webhook proves that a booking happened, not whose it is. A booking is bound to a
Holdfast user only by a "Book now" token that user was issued, used once; anything else is
outside policy: cancelled at Calendly (a durable job) and the invitee told how to book here.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from holdfast.accounts.models import User
from holdfast.calendly import tokens
from holdfast.calendly.models import CalendlyDelivery, SchedulingToken
from holdfast.calendly.signature import SignatureInvalid, verify
from holdfast.catalog.models import Provider
from holdfast.catalog.service import get_service
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Invalid
from holdfast.inbox.service import give_jobs
from holdfast.jobs.models import Job
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo.errors import DuplicateKeyError

HANDLED = ("invitee.created", "invitee.canceled")


class CalendlyNotConfigured(DomainError):
    kind, code = ErrorKind.UNAVAILABLE, "calendly_not_configured"


# --- Book now ------------------------------------------------------------------------------


async def book_now(ctx: Context, user: User, service_id: str, session: str) -> tuple[str, datetime]:
    """The Calendly scheduling URL for this service, carrying a fresh single-use token."""
    service = await get_service(service_id)
    base = service.calendly_url or ctx.settings.calendly_scheduling_url
    if not base:
        raise CalendlyNotConfigured(
            "Online scheduling through Calendly is not set up for this service."
        )
    now = ctx.now()
    token, claims = tokens.issue(
        secret=ctx.settings.secret_key.get_secret_value(),
        user_id=str(user.id),
        service_id=str(service.id),
        session=session,
        now=now,
        lifetime=timedelta(minutes=ctx.settings.book_now_minutes),
    )
    await SchedulingToken(
        id=claims.jti,
        user_id=user.id,
        service_id=service.id,
        session=session,
        issued_at=now,
        expires_at=claims.expires_at,
        cleanup_at=claims.expires_at + timedelta(days=7),
    ).insert()
    query = {
        "name": user.name,
        "email": user.email,
        "utm_source": "holdfast",
        "utm_medium": "book-now",
        "utm_campaign": str(service.id),
        "utm_content": token,
    }
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(query)}", claims.expires_at


# --- Intake: verify, store raw once, acknowledge; the work is a durable job -------------------


def _parse(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        document = json.loads(body)
    except ValueError:
        raise Invalid("The webhook body is not JSON.", code="invalid_payload") from None
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise Invalid("The webhook body has no payload.", code="invalid_payload")
    return str(document.get("event", "")), document


async def receive(ctx: Context, header: str | None, body: bytes) -> str | None:
    key = ctx.settings.calendly_signing_key
    if key is None:
        raise SignatureInvalid("Calendly webhooks are not enabled here.")
    verify(key.get_secret_value(), header, body, ctx.now())
    event, document = _parse(body)
    invitee_uri = document["payload"].get("uri")
    if event not in HANDLED or not isinstance(invitee_uri, str):
        return None  # verified, but nothing Holdfast acts on
    # One single-document insert is the whole acknowledgement: the raw delivery, once per
    # (event, invitee); a repeat hits the key and changes nothing. Turning it into a job is the
    # promoter's tick (`enqueue_received`).
    delivery = {
        "_id": f"{event}:{invitee_uri}",
        "event": event,
        "invitee_uri": invitee_uri,
        "payload": document,
        "received_at": ctx.now(),
        "status": "received",
        "job_id": None,
    }
    with suppress(DuplicateKeyError):
        await CalendlyDelivery.get_pymongo_collection().insert_one(delivery)
    return event


async def enqueue_received(ctx: Context, limit: int = 500) -> list[Job]:
    """Give every stored delivery its processing job (once: the job id is deterministic), as
    the webhook inbox does for every other sender."""
    return await give_jobs(ctx, CalendlyDelivery, lambda _: "calendly.process", "calendly", limit)


# --- Processing ------------------------------------------------------------------------------


def scheduled_event_uuid(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def host_of(payload: dict[str, Any], providers: list[Provider]) -> Provider | None:
    """Which of the service's providers hosts the Calendly event; else its only provider."""
    memberships = payload.get("scheduled_event", {}).get("event_memberships", [])
    hosts = {m.get("user") for m in memberships}
    for provider in providers:
        if provider.calendly_user_uri and provider.calendly_user_uri in hosts:
            return provider
    return providers[0] if len(providers) == 1 else None


async def consume(jti: str, invitee_uri: str, *, at: datetime, now: datetime) -> None:
    """Single use, atomically; valid if unexpired `at` (when the invitee booked). The same
    invitee consuming again (a re-run job) is not a reuse."""
    taken = await SchedulingToken.get_pymongo_collection().find_one_and_update(
        {"_id": jti, "used_at": None, "expires_at": {"$gt": at}},
        {"$set": {"used_at": now, "used_by": invitee_uri}},
    )
    if taken is not None:
        return
    stored = await SchedulingToken.get(jti)
    if stored is None:
        raise tokens.TokenRejected("unknown scheduling token")
    if stored.used_by != invitee_uri:
        raise tokens.TokenRejected(
            "scheduling token already used" if stored.used_at else "expired scheduling token"
        )


def booked_at(delivery: CalendlyDelivery) -> datetime:
    """When the invitee booked: Calendly's signed `created_at` (of the invitee, else of the
    event), which still says so when Calendly retried a webhook we could not take for hours;
    never later than the delivery's receipt here, so a clock running ahead at Calendly cannot
    expire a token that reached us in time."""
    received = as_utc(delivery.received_at)
    raw = delivery.payload["payload"].get("created_at") or delivery.payload.get("created_at")
    created = _instant(raw)
    return min(created, received) if created is not None else received


def _instant(raw: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed) if parsed.tzinfo is not None else None


def event_uri(payload: dict[str, Any]) -> str:
    """The Calendly scheduled event an invitee payload belongs to."""
    return str(payload.get("event") or payload.get("scheduled_event", {}).get("uri", ""))


def interval_of(payload: dict[str, Any]) -> tuple[datetime, datetime | None]:
    """The meeting as Calendly scheduled it: its start, and its end when the payload has one."""
    event = payload.get("scheduled_event") or {}
    start = _instant(event.get("start_time"))
    if start is None:
        raise Invalid(f"'{event.get('start_time')}' is not a start time.", code="invalid_payload")
    end = _instant(event.get("end_time")) if event.get("end_time") else None
    if event.get("end_time") and (end is None or end <= start):
        raise Invalid(f"'{event.get('end_time')}' is not an end time.", code="invalid_payload")
    return start, end


async def list_deliveries(page: PageRequest, *, status: str | None) -> Page[CalendlyDelivery]:
    """Webhook deliveries, the most recently received first."""
    segment = Segment({"status": status} if status else {}, (("received_at", -1), ("_id", 1)))
    return await read_page(CalendlyDelivery, [segment], page, listing=f"calendly:{status!r}")


def cancel_reason(payload: dict[str, Any]) -> str:
    """The invitee's reason, as Calendly recorded it."""
    return str((payload.get("cancellation") or {}).get("reason") or "cancelled in Calendly")
