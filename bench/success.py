"""The success path: a booking nobody competes for, one request at a time, and its floor.

bench/run.py times `POST /api/bookings` for free slots, sequentially, with the promoter and a
worker delivering each confirmation meanwhile, next to one bare MongoDB transaction that makes
the same writes: the 12 claim units of a 60-minute booking, the booking, its audit event and its
two jobs (the confirmation and the reminder). The documents are the product's own models dumped
as the product stores them, built before the clock starts; only the writes are timed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from beanie import PydanticObjectId
from holdfast.bookings.followups import subject
from holdfast.bookings.guard import claim_ids
from holdfast.bookings.models import Booking, BookingEvent, SlotClaim
from holdfast.jobs.models import Job
from holdfast.jobs.service import job_id
from holdfast.notifications.models import Message
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from bench.lab import Headers, Oddities, Offer, Op, booking_body, percentiles

MINUTES = 60  # the booking's length: 12 claim units of five minutes
REMINDER_BEFORE = timedelta(hours=24)  # the service's default reminder


@dataclass(frozen=True)
class Writes:
    """Everything one successful booking writes, as documents ready to insert."""

    claims: list[dict[str, Any]]
    booking: dict[str, Any]
    event: dict[str, Any]
    jobs: list[dict[str, Any]]


def success_writes(start: datetime, now: datetime) -> Writes:
    """A 60-minute booking of a provider of its own (so it never collides), its claims, its
    `created` audit event and its confirmation and reminder jobs, from the product's models."""
    end = start + timedelta(minutes=MINUTES)
    user, provider = PydanticObjectId(), PydanticObjectId()
    booking = Booking(
        id=PydanticObjectId(), user_id=user, provider_id=provider,
        service_id=PydanticObjectId(), start=start, end=end, occupied_start=start,
        occupied_end=end, status="confirmed", created_at=now, updated_at=now,
    )  # fmt: skip
    event = BookingEvent(
        booking_id=booking.id, at=now, action="created", from_status=None,
        to_status="confirmed", actor=str(user),
        data={"source": booking.source, "start": start, "end": end},
    )  # fmt: skip
    about, payload = subject(booking), {"booking_id": str(booking.id)}
    jobs = [
        Job(
            id=job_id(kind, about, at), kind=kind, subject=about, payload=payload, run_at=at,
            created_at=now, updated_at=now,
        ).model_dump(by_alias=True)
        for kind, at in (("notify.confirmation", now), ("notify.reminder", start - REMINDER_BEFORE))
    ]  # fmt: skip
    claims = [
        SlotClaim(id=claim, booking_id=booking.id).model_dump(by_alias=True)  # type: ignore[call-arg]
        for claim in claim_ids(str(provider), start, end)
    ]
    return Writes(
        claims=claims,
        booking=booking.model_dump(by_alias=True),
        event=event.model_dump(by_alias=True, exclude={"id"}),
        jobs=jobs,
    )


@dataclass
class SuccessFloor:
    """The bare transaction a successful booking needs, straight through PyMongo, into a
    database of its own with the product's indexes on the same collections."""

    client: AsyncMongoClient[dict[str, Any]]
    pending: list[Writes] = field(default_factory=list)

    @property
    def db(self) -> Any:
        return self.client.get_database()

    async def prepare(self, count: int, start: datetime) -> None:
        """Create the collections and indexes (implicit creation inside transactions
        conflicts), and build `count` bookings' documents, one hour apart from `start`."""
        for model in (SlotClaim, Booking, BookingEvent, Job):
            name = model.Settings.name
            await self.db.create_collection(name)
            if indexes := getattr(model.Settings, "indexes", None):
                await self.db[name].create_indexes(indexes)
        now = datetime.now(UTC)
        self.pending = [success_writes(start + timedelta(hours=i), now) for i in range(count)]

    def op(self, odd: Oddities) -> Op:
        async def run(_: int) -> str:
            writes = self.pending.pop()
            try:
                await self.transaction(writes)
            except PyMongoError as exc:
                odd.note("success floor transaction", type(exc).__name__, str(exc))
                return type(exc).__name__
            return "committed"

        return run

    async def transaction(self, writes: Writes) -> None:
        db = self.db
        async with self.client.start_session() as session, await session.start_transaction():
            await db.slot_claims.insert_many(writes.claims, session=session)
            await db.bookings.insert_one(writes.booking, session=session)
            await db.booking_events.insert_one(writes.event, session=session)
            await db.jobs.insert_many(writes.jobs, session=session)


@dataclass
class Sequential:
    """Free slots booked one after the other through the API, and the bookings made."""

    load: aiohttp.ClientSession
    offers: list[Offer]
    users: list[Headers]
    odd: Oddities
    made: list[str] = field(default_factory=list)  # booking ids, in order

    def op(self, where: str) -> Op:
        async def run(_: int) -> str:
            offer = self.offers.pop(0)
            user = self.users[len(self.made) % len(self.users)]
            try:
                async with self.load.post(
                    "/api/bookings", json=booking_body(offer), headers=user
                ) as response:
                    content = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.odd.note(where, type(exc).__name__, repr(exc))
                return type(exc).__name__
            if response.status == 201:
                self.made.append(json.loads(content)["id"])
            else:
                self.odd.note(where, str(response.status), content.decode(errors="replace"))
            return str(response.status)

        return run


async def confirmations(booking_ids: list[str], patience: float) -> tuple[list[float], int]:
    """Wait until every booking's confirmation email is `sent` (or `patience` runs out); the
    seconds from each booking being made (`created_at`) to its email being accepted by the
    SMTP server (`sent_at`), and how many are missing. Server clocks, one machine."""
    query = {"booking_id": {"$in": booking_ids}, "template": "confirmation", "status": "sent"}
    deadline = time.monotonic() + patience
    while True:
        sent = await Message.find(query).to_list()
        if len(sent) >= len(booking_ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    made = {
        str(b.id): b.created_at
        async for b in Booking.find({"_id": {"$in": [PydanticObjectId(i) for i in booking_ids]}})
    }
    seconds = [
        (m.sent_at - made[m.booking_id]).total_seconds()
        for m in sent
        if m.sent_at is not None and m.booking_id in made
    ]
    return seconds, len(booking_ids) - len({m.booking_id for m in sent})


def delivery_notes(seconds: list[float], missing: int) -> str:
    if not seconds:
        return f"none delivered; missing: {missing}"
    p50, p99 = percentiles(seconds)
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; missing: {missing}"
