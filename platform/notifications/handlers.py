"""Job handlers: a booking event becomes tracked messages, each sent once (see `delivery`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Provider
from holdfast.clock import iso_z
from holdfast.context import Context
from holdfast.events import Event
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind, Postpone
from holdfast.notifications.compose import (
    BookingFacts,
    account_url,
    calendar_entry,
    message,
    recipients,
    render,
    render_text,
)
from holdfast.notifications.delivery import DeliveryFailed, send_once
from holdfast.notifications.ics import calendar_file
from holdfast.notifications.models import Message
from holdfast.payments.receipts import cancellation_terms

TEMPLATES = {
    "notify.confirmation": "confirmation",
    "notify.reminder": "reminder",
    "notify.cancellation": "cancellation",
    "notify.meeting_link": "meeting_link",
}


class MissingRecord(Exception):
    pass


async def booking_facts(ctx: Context, booking_id: str) -> BookingFacts:
    """The booking and its client (two reads by id), and its service and provider from this
    process's catalog snapshot (usually no round trip): this runs for every message. Two point
    reads cost the primary 300 µs of CPU where one aggregation with a $lookup cost 510 (measured
    on one machine), CPU the bookings being made meanwhile need."""
    found = await Booking.get_pymongo_collection().find_one({"_id": PydanticObjectId(booking_id)})
    if found is None:
        raise MissingRecord(f"booking {booking_id} is gone")
    booking = Booking.model_validate(found)
    client = await User.get_pymongo_collection().find_one({"_id": booking.user_id})
    service, offering = await ctx.catalog.service_with_providers(str(booking.service_id))
    provider = next((p for p in offering if p.id == booking.provider_id), None)
    if provider is None:  # no longer offers the service: read it as it is
        provider = await Provider.get(booking.provider_id)
    if client is None or provider is None:
        raise MissingRecord(f"booking {booking_id} refers to a missing user or provider")
    return BookingFacts(booking, User.model_validate(client), provider, service)


async def booking_calendar(ctx: Context, booking_id: str) -> str:
    """The booking as a calendar file the client adds themselves ("add to calendar"): the same
    UID as the emailed invites, so calendars keep one event for it."""
    facts = await booking_facts(ctx, booking_id)
    return calendar_file(calendar_entry(ctx, facts), method="PUBLISH", stamp=ctx.now())


async def notify_booking(ctx: Context, job: Job) -> None:
    template = TEMPLATES[job.kind]
    facts = await booking_facts(ctx, str(job.payload["booking_id"]))
    if template != "cancellation" and facts.booking.status == "cancelled":
        return  # a reminder that raced a cancellation says nothing
    if template == "cancellation":
        facts = replace(facts, money=await cancellation_terms(facts.booking.id))
    if job.payload.get("start", iso_z(facts.booking.start)) != iso_z(facts.booking.start):
        return  # a reminder of the time the booking had before it was moved
    if template == "confirmation" and (until := _awaiting_link(ctx, facts, job)):
        raise Postpone(until)
    if template == "confirmation" and _link_coming(ctx, facts):
        facts = await _owe_link(ctx, facts)
    if template == "meeting_link" and not facts.booking.link_owed:
        return  # the confirmation carried the link
    moved_from = job.payload.get("moved_from")
    moved = datetime.fromisoformat(str(moved_from)) if moved_from else None
    people = await recipients(facts, template, moved=moved is not None)
    messages = [
        each
        for person, theirs in people
        for each in render(ctx, facts, person, theirs, job.id, moved_from=moved)
    ]
    await _send_all(ctx, facts, messages, job)


async def notify_cancelled_together(ctx: Context, job: Job) -> None:
    """One notice for several sessions of one client cancelled together (a series cut short),
    to the client and the practice's side, listing every session."""
    ids = [PydanticObjectId(str(i)) for i in job.payload["booking_ids"]]
    facts = await booking_facts(ctx, str(ids[0]))
    found = await Booking.find({"_id": {"$in": ids}}).sort("start", "_id").to_list()
    starts = [b.start for b in found]
    messages = [
        each
        for person, theirs in await recipients(facts, "cancellations")
        for each in render(ctx, facts, person, theirs, job.id, sessions=starts)
    ]
    await _send_all(ctx, facts, messages, job)


async def _send_all(ctx: Context, facts: BookingFacts, messages: list[Message], job: Job) -> None:
    failures: list[str] = []
    for each in messages:
        try:
            await send_once(ctx, each, job.claim_token)
        except DeliveryFailed as exc:
            failures.append(str(exc))
    await ctx.events.publish(Event("message-updated", {"booking_id": str(facts.booking.id)}))
    if failures:
        # Messages already sent stay sent; the retry only tries the ones that failed.
        raise DeliveryFailed("; ".join(failures))


# A video booking's confirmation waits for its meeting link, looking again after 2, 4, 8 ... s
# (postponed tries, not failures): at most this many looks, however long the wait allowed.
LINK_LOOKS = 12


def _awaiting_link(ctx: Context, facts: BookingFacts, job: Job) -> datetime | None:
    """When to look again for the meeting link, or None: send now (there is one, none is
    coming, or the wait is over and a message with the link follows when it exists)."""
    if not _link_coming(ctx, facts):
        return None
    now = ctx.now()
    wait = timedelta(seconds=ctx.settings.meeting_link_wait_seconds)
    deadline = facts.booking.updated_at + wait
    if now >= deadline or job.postponed >= LINK_LOOKS:
        return None
    return min(deadline, now + timedelta(seconds=2 ** min(job.postponed + 1, 6)))


def _link_coming(ctx: Context, facts: BookingFacts) -> bool:
    """A video booking whose meeting (and link) a Zoom job is still to make."""
    video = facts.service.location == "video" and ctx.settings.zoom_enabled
    return video and not facts.booking.meeting


async def _owe_link(ctx: Context, facts: BookingFacts) -> BookingFacts:
    """The confirmation goes without the link: say so on the booking, in a write conditional on
    the link being absent. The link's own write returns what it replaced (see
    `integrations.zoom.meetings`), and the two are ordered on the one document: either this
    lands first and the link's writer sends a follow-up, or the link is there already and goes
    in this confirmation (the booking read again). Neither misses it."""
    owed = await Booking.get_pymongo_collection().update_one(
        {"_id": facts.booking.id, "meeting": None}, {"$set": {"link_owed": True}}
    )
    if owed.matched_count:
        return facts
    return await booking_facts(ctx, str(facts.booking.id))


async def notify_rejected(ctx: Context, job: Job) -> None:
    """Tell a Calendly invitee whose booking was outside policy how to book through Holdfast."""
    email = job.payload.get("email")
    if not email:
        return
    variables = {
        "name": job.payload.get("name") or "there",
        "reason": job.payload.get("reason", ""),
        "account_url": account_url(ctx),
    }
    await send_once(
        ctx,
        message(
            "email",
            str(email),
            "Your Calendly booking: please book through Holdfast",
            render_text("calendly_rejected.txt", variables),
            job_id=job.id,
            template="calendly_rejected",
            now=ctx.now(),
        ),
        job.claim_token,
    )
    await ctx.events.publish(Event("message-updated"))


def kinds(job_timeout: timedelta) -> list[JobKind]:
    bookings = [
        JobKind(name, notify_booking, timeout=job_timeout, backoff_base=timedelta(seconds=2))
        for name in TEMPLATES
    ]
    together = JobKind(
        "notify.cancellations",
        notify_cancelled_together,
        timeout=job_timeout,
        backoff_base=timedelta(seconds=2),
    )
    rejected = JobKind("notify.calendly_rejected", notify_rejected, timeout=job_timeout)
    return [*bookings, together, rejected]
