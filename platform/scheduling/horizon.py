"""The daily horizon job: each active series is booked ahead as time passes, and sessions that
stopped fitting are reported.

An open-ended series keeps `HOLDFAST_SERIES_HORIZON_WEEKS` of sessions booked; every day this
job books the occurrences that came within reach, checked like the first ones (those that
cannot be booked become the series' conflicts, for the admin to see, never silently dropped).
It also looks again at the series' booked sessions still ahead: one that no longer lies inside
the provider's working hours (the hours changed) is reported, not cancelled — the practice
decides. Safe to run twice: the horizon moves by a conditional update, and an occurrence is
booked at most once (a unique index on series and occurrence).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from holdfast.bookings.models import SLOT_HOLDING, Booking
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.db import Session, transact
from holdfast.errors import Invalid, NotFound
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.jobs.service import push_due, schedule_all
from holdfast.scheduling import problems
from holdfast.scheduling.models import Series, SeriesConflict
from holdfast.scheduling.recurrence import Recurrence
from holdfast.scheduling.rules import Offering, fits_hours, offering
from holdfast.scheduling.series import SeriesChanged, booked_until, plan, recurrence_of, write

log = structlog.get_logger(__name__)
KIND = "series.extend"
EVERY = timedelta(days=1)
AT = timedelta(hours=2)  # 02:00 UTC, a quiet hour for most practices it serves


async def extend_all(ctx: Context, job: Job) -> None:
    """Run by the periodic job: every active series, one after another."""
    now = ctx.now()
    extended = 0
    async for series in Series.find({"state": "active"}):
        if await extend(ctx, series, now):
            extended += 1
    log.info("series.extended", series=extended)


async def extend(ctx: Context, series: Series, now: datetime) -> bool:
    """Book `series` up to its horizon as of `now` and report what no longer fits; True if its
    horizon moved."""
    try:
        place: Offering | None = await offering(
            ctx, str(series.service_id), str(series.provider_id)
        )
    except (Invalid, NotFound):  # archived, gone, or no longer offered: each is reported
        place = None
    if place is not None:
        await _report_unfit(ctx, series, place, now)
    recurrence = recurrence_of(series)
    previous = as_utc(series.materialised_until)
    hi = booked_until(ctx.settings, recurrence, now)
    moved = hi > previous
    if moved:
        found = await plan(ctx, series, place, previous, hi)
        try:
            await write(ctx, found, actor="series", hi=hi, previous=previous)
        except SeriesChanged:
            return False  # another run moved it first
    if _finished(series, recurrence, hi):  # nothing left to book: the job stops looking
        await Series.get_pymongo_collection().update_one(
            {"_id": series.id, "state": "active"}, {"$set": {"state": "ended"}}
        )
    return moved


def _finished(series: Series, recurrence: Recurrence, hi: datetime) -> bool:
    if series.cut_from is not None and as_utc(series.cut_from) <= hi:
        return True
    return recurrence.finite() and recurrence.first_from(hi) is None


async def _report_unfit(ctx: Context, series: Series, place: Offering, now: datetime) -> None:
    """Booked sessions ahead that no longer lie inside the working hours, recorded on the series
    and emailed to every admin, once each.
    A session the practice moved by hand (it may have placed it outside them on purpose) is
    left alone."""
    reported = {c.booking_id for c in series.conflicts if c.reason == "outside_hours"}
    ahead = Booking.find(
        {"series_id": series.id, "start": {"$gte": now}, "status": {"$in": list(SLOT_HOLDING)}}
    )
    unfit = [
        SeriesConflict(start=b.start, reason="outside_hours", found_at=now, booking_id=b.id)
        async for b in ahead
        if b.id not in reported
        and b.occurrence is not None
        and as_utc(b.start) == as_utc(b.occurrence)
        and b.provider_id == place.provider.id
        and not fits_hours(place.provider, place.service, as_utc(b.start))
    ]
    if not unfit:
        return
    log.warning("series.unfit", series_id=str(series.id), sessions=len(unfit))

    async def work(session: Session) -> list[Job]:
        # Recorded once (a run that raced this one has recorded them already) and reported
        # with the record, in one transaction.
        recorded = await Series.get_pymongo_collection().update_one(
            {"_id": series.id, "conflicts.booking_id": {"$nin": [c.booking_id for c in unfit]}},
            {"$push": {"conflicts": {"$each": [c.model_dump() for c in unfit]}}},
            session=session,
        )
        if recorded.modified_count == 0:
            return []
        return await schedule_all(session, [problems.report(series, unfit, now)])

    push_due(ctx, await transact(ctx.mongo, work))


def kinds(job_timeout: timedelta) -> list[JobKind]:
    extending = JobKind(KIND, extend_all, timeout=job_timeout, every=EVERY, at=AT)
    return [extending, *problems.kinds(job_timeout)]
