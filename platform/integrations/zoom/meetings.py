"""A Zoom meeting for every booking of a `video` service, kept by durable jobs.

Zoom has no idempotency key, so the job claims first: a `MeetingRecord` (state `creating`, with a
marker) is written before Zoom is asked, and the meeting's id and join URL after. A try that finds
a claim without a meeting id (its worker died between Zoom's 201 and our write, or Zoom's answer
was lost) looks for the marker among the host's upcoming meetings before it creates one, so there
is only ever one meeting per booking. The join URL goes on the booking (`meeting`), into the
confirmation, the `.ics` and the Google event. A move moves the meeting; a cancel deletes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import structlog
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.followups import Change
from holdfast.bookings.models import SLOT_HOLDING, Booking
from holdfast.catalog.models import Provider, Service
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.events import Event
from holdfast.integrations.google.events import rewrite
from holdfast.integrations.models import IntegrationHealth, MeetingRecord
from holdfast.integrations.zoom import client
from holdfast.integrations.zoom.tokens import access_token
from holdfast.jobs.models import Job
from holdfast.jobs.registry import RetryLater
from holdfast.jobs.service import new_job, push_due, schedule
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

log = structlog.get_logger(__name__)
KIND = "zoom.meeting"
LINK_NOTICE = "notify.meeting_link"
T = TypeVar("T")


async def follow_in_zoom(session: Session, change: Change) -> list[Job]:
    """A job when a video booking is made or moved, or a booking with a meeting is cancelled."""
    booking = change.booking
    if change.kind == "held":
        return []  # its meeting is made once it is paid for (`confirmed`)
    if change.kind in ("confirmed", "moved"):
        service = change.service or await Service.get(booking.service_id, session=session)
        if service is None or service.location != "video":
            return []
    else:
        found = await MeetingRecord.get_pymongo_collection().find_one(
            {"_id": booking.id}, projection={"_id": 1}, session=session
        )
        if found is None:
            return []
    job = new_job(
        # One job per change: see `holdfast.integrations.google.events.follow_in_google`.
        kind=KIND, subject=f"zoom:{booking.id}:{PydanticObjectId()}", run_at=change.now,
        now=change.now, payload={"booking_id": str(booking.id)}, intended=booking.updated_at,
    )  # fmt: skip
    return [job]


async def keep_meeting(ctx: Context, job: Job) -> None:
    """Make Zoom match the booking as it is now: one meeting while it holds time, at its time;
    none once it is cancelled."""
    if not ctx.settings.zoom_enabled:
        # A video service while Zoom is off: the booking stands, without a meeting.
        log.warning("zoom.off", booking=job.payload["booking_id"])
        return
    booking_id = PydanticObjectId(job.payload["booking_id"])
    booking = await Booking.get(booking_id)
    try:
        if booking is not None and booking.status in SLOT_HOLDING:
            await _ensure(ctx, booking)
        else:
            await _remove(ctx, booking_id)
    except (client.ZoomUnavailable, client.ZoomRefused) as exc:
        await _health(ctx, str(exc))
        raise
    await _health(ctx, None)


async def _ensure(ctx: Context, booking: Booking) -> None:
    plan = await _plan(booking)
    record = await _claim(ctx, booking)
    if record.state == "deleted":
        return  # cancelled before; a booking does not come back from that
    if record.meeting_id is None:
        meeting = await _with_token(
            ctx, lambda t: client.find_meeting(ctx.settings, t, record.marker)
        )
        if meeting is None:
            meeting = await _with_token(ctx, lambda t: client.create_meeting(ctx.settings, t, plan))
        await _created(ctx, booking, record, meeting, plan)
        return
    if (record.start, record.minutes) != (plan.start, plan.minutes):
        meeting_id = record.meeting_id
        await _with_token(ctx, lambda t: client.move_meeting(ctx.settings, t, meeting_id, plan))
        await MeetingRecord.get_pymongo_collection().update_one(
            {"_id": record.id},
            {"$set": {"start": plan.start, "minutes": plan.minutes, "updated_at": ctx.now()}},
        )


async def _plan(booking: Booking) -> client.MeetingPlan:
    service = await Service.get(booking.service_id)
    provider = await Provider.get(booking.provider_id)
    user = await User.get(booking.user_id)
    what = service.name if service else "Session"
    host = provider.name if provider else "Practitioner"
    who = f"{host} and {user.name if user else 'client'}"
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    return client.MeetingPlan(
        topic=f"{what}: {who}",
        agenda=f"{what}, booked in Holdfast. [holdfast:{booking.id}]",
        start=booking.start,
        minutes=minutes,
    )


async def _claim(ctx: Context, booking: Booking) -> MeetingRecord:
    """The booking's meeting record, written (as a claim) if it does not exist yet. A claim
    still `creating` is taken over only once the try that held it is over (it may be asking Zoom
    right now); until then this try waits its turn."""
    now = ctx.now()
    until = now + timedelta(seconds=ctx.settings.zoom_timeout_seconds * 3)
    claim = MeetingRecord(
        id=booking.id,
        marker=f"[holdfast:{booking.id}]",
        creating_until=until,
        claimed_at=now,
        updated_at=now,
    )
    collection = MeetingRecord.get_pymongo_collection()
    try:
        await collection.insert_one(claim.model_dump(by_alias=True))
        return claim
    except DuplicateKeyError:
        pass
    taken = await collection.find_one_and_update(
        {
            "_id": booking.id,
            "state": "creating",
            "$or": [{"creating_until": None}, {"creating_until": {"$lte": now}}],
        },
        {"$set": {"creating_until": until, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if taken is not None:
        record: MeetingRecord = MeetingRecord.model_validate(taken)
        return record
    found = await MeetingRecord.get(booking.id)
    assert found is not None
    if found.state == "creating":
        held = (found.creating_until or now) - now
        raise RetryLater("another try is making this booking's meeting", after=held)
    return found


async def _created(
    ctx: Context,
    booking: Booking,
    record: MeetingRecord,
    meeting: client.Meeting,
    plan: client.MeetingPlan,
) -> None:
    """Record the meeting, put its link on the booking, and let the rest follow: the Google
    event gets the link; a confirmation that went without it is followed by the link."""
    now = ctx.now()
    await MeetingRecord.get_pymongo_collection().update_one(
        {"_id": record.id},
        {
            "$set": {
                "state": "created", "meeting_id": meeting.id, "join_url": meeting.join_url,
                "creating_until": None,
                "start": plan.start, "minutes": plan.minutes, "updated_at": now,
            }
        },
    )  # fmt: skip

    async def link(session: Session) -> list[Job]:
        # What it replaces says whether a confirmation went without the link (that marks the
        # booking conditionally, ordered against this write: see `notifications.handlers`);
        # the follow-up is written with the link, so a worker dying here loses neither.
        before = await Booking.get_pymongo_collection().find_one_and_update(
            {"_id": booking.id},
            {"$set": {"meeting": {"provider": "zoom", "join_url": meeting.join_url}}},
            projection={"link_owed": 1},
            session=session,
        )
        if before is None or not before.get("link_owed"):
            return []
        follow_up = await schedule(
            session, kind=LINK_NOTICE, subject=f"booking:{booking.id}", run_at=now, now=now,
            payload={"booking_id": str(booking.id)}, intended=now,
        )  # fmt: skip
        return [follow_up]

    followed = await transact(ctx.mongo, link)
    log.info("zoom.meeting_created", booking=str(booking.id), meeting=meeting.id)
    await ctx.events.publish(
        Event("booking-updated", {"booking_id": str(booking.id), "user_id": str(booking.user_id),
                                  "provider_id": str(booking.provider_id)})
    )  # fmt: skip
    push_due(ctx, [*await rewrite(booking, now), *followed])


async def _remove(ctx: Context, booking_id: PydanticObjectId) -> None:
    record = await MeetingRecord.get(booking_id)
    if record is None or record.state == "deleted":
        return
    meeting_id = record.meeting_id
    if meeting_id is None:  # a claim whose meeting we never heard of: it may exist
        found = await _with_token(
            ctx, lambda t: client.find_meeting(ctx.settings, t, record.marker)
        )
        meeting_id = found.id if found else None
    if meeting_id is not None:
        gone = meeting_id
        await _with_token(ctx, lambda t: client.delete_meeting(ctx.settings, t, gone))
    await MeetingRecord.get_pymongo_collection().update_one(
        {"_id": booking_id}, {"$set": {"state": "deleted", "updated_at": ctx.now()}}
    )
    await Booking.get_pymongo_collection().update_one(
        {"_id": booking_id}, {"$set": {"meeting": None}}
    )


async def _with_token(ctx: Context, call: Callable[[str], Awaitable[T]]) -> T:
    """Call Zoom with the shared token; after a 401, once more with a fresh one."""
    token = await access_token(ctx)
    try:
        return await call(token)
    except client.TokenRejected:
        token = await access_token(ctx, stale=token)
    try:
        return await call(token)
    except client.TokenRejected:
        raise client.ZoomRefused("Zoom refused a freshly issued token (401)") from None


async def _health(ctx: Context, error: str | None) -> None:
    """Zoom's row on the integrations board: failing (why, since when) or working."""
    now = ctx.now()
    collection = IntegrationHealth.get_pymongo_collection()
    if error is None:
        await collection.update_one(
            {"_id": "zoom"},
            {"$set": {"state": "connected", "last_error": None, "failing_since": None,
                      "last_ok_at": now, "updated_at": now}},
            upsert=True,
        )  # fmt: skip
        return
    await collection.update_one(
        {"_id": "zoom"},
        {"$set": {"state": "failing", "last_error": error[:500], "updated_at": now}},
        upsert=True,
    )
    began = await collection.update_one(
        {"_id": "zoom", "failing_since": None}, {"$set": {"failing_since": now}}
    )
    if began.modified_count:  # once per failure: where an alert (issue 15) hooks in
        log.error("integrations.failing", integration="zoom", reason=error)
