"""Recurring series: a client's sessions at the same local time, booked ahead on a horizon.

Every occurrence is checked (not the first two): all of them are looked at together against
the provider's busy time and working hours, and the free ones are written in one transaction —
the series, every occurrence's claim units, bookings, audit entries and jobs — so either all of
them are booked or none. A finite series is booked as far as bookings open
(`HOLDFAST_BOOKING_HORIZON_DAYS`); an open-ended one `HOLDFAST_SERIES_HORIZON_WEEKS` ahead, and
the daily horizon job (`holdfast.scheduling.horizon`) books the next ones as time passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.service import get_user
from holdfast.bookings import followups
from holdfast.bookings.guard import Collision, claim_all, held
from holdfast.bookings.models import SLOT_HOLDING, Booking, BookingEvent
from holdfast.bookings.service import cancel_as, cancel_within, history_entry, placement
from holdfast.catalog.service import object_id
from holdfast.clock import as_utc, zone
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job, push_due, schedule_all
from holdfast.paging import Page, PageRequest, Segment, read_page
from holdfast.scheduling import problems
from holdfast.scheduling.models import ConflictReason, Series, SeriesConflict
from holdfast.scheduling.recurrence import Occurrence, Recurrence, parse_rule
from holdfast.scheduling.rules import Offering, conflicts, offering
from holdfast.scheduling.schemas import ConflictOut, SeriesCancelIn, SeriesIn
from holdfast.settings import Settings

# A collision inside the transaction (time taken since it was looked at) is looked at again and
# the write tried again without those occurrences, this many times.
WRITE_TRIES = 4


class SeriesConflicts(DomainError):
    kind, code = ErrorKind.CONFLICT, "series_conflicts"

    def __init__(self, series: Series, found: list[SeriesConflict]) -> None:
        tz = zone(series.timezone)
        super().__init__(
            "Some sessions of this series cannot be booked, so none was booked; see conflicts.",
            conflicts=[ConflictOut.of(c, tz).model_dump(mode="json") for c in found],
        )


class SeriesBusy(DomainError):
    kind, code = ErrorKind.CONFLICT, "series_busy"


class SeriesChanged(Exception):
    """Another run moved the series' horizon first: this transaction aborts."""


@dataclass
class Plan:
    """What booking `series`' occurrences in a window would write, and what it cannot book."""

    series: Series
    place: Offering | None  # None: the service or provider takes no new bookings
    bookings: list[Booking] = field(default_factory=list)
    conflicts: list[SeriesConflict] = field(default_factory=list)


def recurrence_of(series: Series) -> Recurrence:
    return parse_rule(
        series.rrule,
        start_local=datetime.fromisoformat(series.start_local),
        tz=zone(series.timezone),
        count=series.rule_count,
        until=series.until,
    )


def booked_until(settings: Settings, recurrence: Recurrence, now: datetime) -> datetime:
    """How far ahead a series' occurrences are booked as of `now`."""
    opens = now + timedelta(days=settings.booking_horizon_days)
    if recurrence.finite():
        return opens
    return min(now + timedelta(weeks=settings.series_horizon_weeks), opens)


def due(series: Series, recurrence: Recurrence, lo: datetime, hi: datetime) -> list[Occurrence]:
    """The occurrences in [lo, hi) that are still wanted (not cut off, not cancelled singly)."""
    excluded = {as_utc(e) for e in series.excluded}
    cut = as_utc(series.cut_from) if series.cut_from else None
    return [
        o
        for o in recurrence.between(lo, hi)
        if o.start not in excluded and (cut is None or o.start < cut)
    ]


async def plan(
    ctx: Context, series: Series, place: Offering | None, lo: datetime, hi: datetime
) -> Plan:
    """Check every occurrence in [lo, hi) not booked yet, together."""
    now = ctx.now()
    wanted = [o.start for o in due(series, recurrence_of(series), max(lo, now), hi)]
    if series.id is not None and wanted:
        made = Booking.get_pymongo_collection().find(
            {"series_id": series.id, "occurrence": {"$gte": wanted[0], "$lte": wanted[-1]}},
            projection={"occurrence": 1},
        )
        already = {as_utc(row["occurrence"]) async for row in made}
        wanted = [s for s in wanted if s not in already]
    found = Plan(series, place)
    if place is None:
        found.conflicts = [_refused(s, "not_offered", now) for s in wanted]
        return found
    refused = await conflicts(place, wanted)
    found.conflicts = [_refused(s, r, now) for s, r in refused.items()]
    found.bookings = [_occurrence(series, place, s, now) for s in wanted if s not in refused]
    return found


def _refused(start: datetime, reason: ConflictReason, now: datetime) -> SeriesConflict:
    return SeriesConflict(start=start, reason=reason, found_at=now)


def _occurrence(series: Series, place: Offering, start: datetime, now: datetime) -> Booking:
    return Booking(
        id=PydanticObjectId(),
        user_id=series.user_id,
        provider_id=place.provider.id,
        service_id=place.service.id,
        **placement(place.service, start),
        status="confirmed",
        source="series",
        series_id=series.id,
        occurrence=start,
        created_at=now,
        updated_at=now,
    )


async def write(
    ctx: Context,
    found: Plan,
    *,
    actor: str,
    hi: datetime,
    reject: bool = False,
    previous: datetime | None = None,
) -> list[Booking]:
    """Write a plan in one transaction: a new series (`previous` None) or the next stretch of
    one whose horizon is still at `previous`. Occurrences taken since they were looked at
    become conflicts (or, with `reject`, refuse the whole series)."""
    series, now = found.series, ctx.now()
    await ctx.indexes.require(
        "bookings.series_occurrence", refusing="Booking a series", because="each occurs once"
    )
    for _ in range(WRITE_TRIES):
        try:
            jobs = await transact(ctx.mongo, _work(found, actor, now, hi, previous))
            break
        except Collision:
            taken = await held(found.bookings)
            lost = [b for b in found.bookings if b.id in taken]
            found.bookings = [b for b in found.bookings if b.id not in taken]
            found.conflicts += [_refused(b.start, "booked", now) for b in lost]
            if reject and lost:
                raise SeriesConflicts(series, found.conflicts) from None
    else:
        raise SeriesBusy("The practitioner's calendar is changing fast; please try again.")
    push_due(ctx, jobs)
    if found.bookings:  # one event covers them all: same client, same provider
        await ctx.events.publish(followups.booking_event("booking-created", found.bookings[0]))
    return found.bookings


def _work(
    found: Plan, actor: str, now: datetime, hi: datetime, previous: datetime | None
) -> Callable[[Session], Awaitable[list[Job]]]:
    series, bookings = found.series, found.bookings
    collection = Series.get_pymongo_collection()
    conflicts_doc = [c.model_dump() for c in found.conflicts]

    async def work(session: Session) -> list[Job]:
        if previous is None:
            series.materialised_until, series.conflicts = hi, found.conflicts
            await collection.insert_one(series.model_dump(by_alias=True), session=session)
        else:
            moved = await collection.update_one(
                {"_id": series.id, "materialised_until": previous},
                {
                    "$set": {"materialised_until": hi, "updated_at": now},
                    "$push": {"conflicts": {"$each": conflicts_doc}},
                },
                session=session,
            )
            if moved.matched_count == 0:
                raise SeriesChanged
        # What a later stretch cannot book is emailed to every admin (at creation the admin
        # sees it in the answer).
        told: list[Job] = []
        if previous is not None and found.conflicts:
            told = await schedule_all(session, [problems.report(series, found.conflicts, now)])
        if not bookings:
            return told
        await claim_all(session, bookings)
        await Booking.get_pymongo_collection().insert_many(
            [b.model_dump(by_alias=True) for b in bookings], session=session
        )
        history = {"series_id": str(series.id)}
        await BookingEvent.get_pymongo_collection().insert_many(
            [history_entry(b, "created", None, actor, data=history) for b in bookings],
            session=session,
        )
        service = found.place.service if found.place else None
        # One confirmation for the series, with its first session (to the client, and to the
        # practitioner); each session its reminder. Sessions the horizon job books later were
        # announced with the series.
        changes = [
            followups.Change("confirmed", b, now, service, announce=previous is None and i == 0)
            for i, b in enumerate(bookings)
        ]
        return [*told, *await followups.follow_all(session, changes)]

    return work


async def prepare(ctx: Context, data: SeriesIn, admin: User) -> tuple[Plan, datetime]:
    """A new series and what creating it would book now (nothing written)."""
    client = await get_user(data.user_id)
    place = await offering(ctx, data.service_id, data.provider_id)
    try:
        start_local = datetime.fromisoformat(data.start_local)
    except ValueError:
        raise Invalid("start_local is not a real date and time.", code="invalid_start") from None
    recurrence = parse_rule(
        data.rrule, start_local=start_local, tz=zone(data.timezone), count=data.count,
        until=data.until,
    )  # fmt: skip
    now = ctx.now()
    if recurrence.first_from(now) is None:
        raise Invalid("This rule has no session after now.", code="no_occurrences")
    hi = booked_until(ctx.settings, recurrence, now)
    series = Series(
        id=PydanticObjectId(),
        user_id=client.id,
        service_id=place.service.id,
        provider_id=place.provider.id,
        rrule=data.rrule,
        start_local=start_local.isoformat(timespec="minutes"),
        timezone=data.timezone,
        rule_count=data.count,
        until=data.until,
        materialised_until=hi,
        created_by=str(admin.id),
        created_at=now,
        updated_at=now,
    )
    return await plan(ctx, series, place, now, hi), hi


async def create_series(
    ctx: Context, data: SeriesIn, admin: User, *, request_key: str | None = None
) -> tuple[Series, list[Booking]]:
    """Book a new series; a request whose earlier try committed (its answer lost) gets that
    series again instead of a second one."""
    if request_key and (earlier := await Series.find_one({"request_key": request_key})):
        return await get_series(str(earlier.id))
    found, hi = await prepare(ctx, data, admin)
    found.series.request_key = request_key
    if found.conflicts and (data.on_conflict == "reject" or not found.bookings):
        raise SeriesConflicts(found.series, found.conflicts)
    reject = data.on_conflict == "reject"
    booked = await write(ctx, found, actor=str(admin.id), hi=hi, reject=reject)
    return found.series, booked


async def get_series(series_id: str) -> tuple[Series, list[Booking]]:
    series = await Series.get(object_id(series_id, "series"))
    if series is None:
        raise NotFound(f"There is no series with id {series_id}.", code="series_not_found")
    bookings = await Booking.find({"series_id": series.id}).sort("start", "_id").to_list()
    return series, bookings


async def list_series(page: PageRequest, *, user_id: str | None) -> Page[Series]:
    """Series newest first; one client's if `user_id` is given."""
    where = {"user_id": object_id(user_id, "user")} if user_id else {}
    segment = Segment(where, (("created_at", -1), ("_id", -1)))
    return await read_page(Series, [segment], page, listing=f"series:{user_id}")


async def cancel_series(
    ctx: Context, series_id: str, data: SeriesCancelIn, admin: User
) -> tuple[Series, list[Booking]]:
    """Cancel one occurrence, it and the following ones, or all that are still ahead. The
    series is changed first, so the horizon job never books again what is cancelled here;
    repeating a cancellation changes nothing."""
    series, bookings = await get_series(series_id)
    now = ctx.now()
    if data.scope != "all" and data.start is None:
        raise Invalid(f"Cancelling '{data.scope}' needs the occurrence's start.", code="no_start")
    start = as_utc(data.start) if data.start else now
    if data.scope == "one":
        chosen = [b for b in bookings if start in (as_utc(b.start), _occurred(b))]
        if not chosen:
            await _exclude(series, start)
    else:
        change: dict[str, Any] = {"cut_from": min(start, as_utc(series.cut_from or start))}
        if data.scope == "all":
            change["state"] = "cancelled"
        await Series.get_pymongo_collection().update_one(
            {"_id": series.id}, {"$set": {**change, "updated_at": now}}
        )
        chosen = [b for b in bookings if max(as_utc(b.start), _occurred(b)) >= start]
    live = [b for b in chosen if b.status in SLOT_HOLDING and as_utc(b.end) > now]
    history = {"series_id": str(series.id), "scope": data.scope}
    if data.scope == "one":
        for booking in live:
            await cancel_as(ctx, booking, actor=str(admin.id), reason=CANCELLED, data=history)
    elif live:
        await _cancel_together(ctx, series, live, actor=str(admin.id), history=history)
    return await get_series(series_id)


CANCELLED = "Cancelled by the practice."


async def _cancel_together(
    ctx: Context, series: Series, live: list[Booking], *, actor: str, history: dict[str, Any]
) -> None:
    """Cancel a series' sessions in one transaction, and tell both parties once, listing them
    (not one notice per session)."""
    now = ctx.now()

    async def work(session: Session) -> list[Job]:
        jobs: list[Job] = []
        gone: list[Booking] = []
        for booking in live:
            done = await cancel_within(
                session, booking, now=now, actor=actor, reason=CANCELLED, data=history,
                announce=False,
            )  # fmt: skip
            if done is not None:
                jobs += done
                gone.append(booking)
        if not gone:
            return jobs  # cancelled by someone else meanwhile
        notice = new_job(  # its id: the first session it names (each is cancelled once)
            kind="notify.cancellations", subject=f"series:{series.id}:{gone[0].id}",
            run_at=now, now=now, payload={"booking_ids": [str(b.id) for b in gone]},
        )  # fmt: skip
        return [*jobs, *await schedule_all(session, [notice])]

    jobs = await transact(ctx.mongo, work)
    push_due(ctx, jobs)
    if jobs:  # one event per practitioner (a session may have been moved to another)
        for booking in {b.provider_id: b for b in live}.values():
            await ctx.events.publish(followups.booking_event("booking-cancelled", booking))


def _occurred(booking: Booking) -> datetime:
    return as_utc(booking.occurrence or booking.start)


async def _exclude(series: Series, start: datetime) -> None:
    """Cancel an occurrence not booked yet: the horizon job will skip it."""
    recurrence = recurrence_of(series)
    if not recurrence.between(start, start + timedelta(seconds=1)):
        raise NotFound("This series has no session at that time.", code="occurrence_not_found")
    await Series.get_pymongo_collection().update_one(
        {"_id": series.id}, {"$addToSet": {"excluded": start}}
    )
