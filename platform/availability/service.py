"""Availability: load rules and bookings, then ask the pure generator for slots."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from holdfast.availability.slots import DateException, Slot, SlotSpec, WeeklyRule, generate_slots
from holdfast.bookings.models import LONGEST_OCCUPIED, SLOT_HOLDING, Booking, SlotHold
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import get_provider, object_id, service_with_providers
from holdfast.clock import as_utc, iso_z, zone
from holdfast.context import Context
from holdfast.errors import Invalid
from holdfast.integrations.google.busy import calendar_busy, calendar_busy_at


@dataclass(frozen=True, slots=True)
class OfferedSlot:
    provider_id: str
    start: datetime
    end: datetime


def slot_spec(service: Service) -> SlotSpec:
    return SlotSpec(
        duration=timedelta(minutes=service.duration_minutes),
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        step=timedelta(minutes=service.slot_step_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
    )


def _hhmm(value: str) -> time:
    # "24:00" closes a day at midnight; the generator takes it as the end of the local day.
    return time.max if value == "24:00" else time.fromisoformat(value)


def weekly_rules(provider: Provider) -> list[WeeklyRule]:
    return [WeeklyRule(r.weekday, _hhmm(r.start), _hhmm(r.end)) for r in provider.rules]


def date_exceptions(provider: Provider) -> list[DateException]:
    return [
        DateException(e.date, _hhmm(e.start) if e.start else None, _hhmm(e.end) if e.end else None)
        for e in provider.exceptions
    ]


Busy = dict[PydanticObjectId, list[tuple[datetime, datetime]]]  # occupied intervals, by provider


async def busy_intervals(
    provider_ids: list[PydanticObjectId], start: datetime, end: datetime
) -> Busy:
    """Occupied intervals that reach into [start, end): slot-holding bookings and the busy time
    read from the providers' own calendars (Google). Every availability read and conflict check
    (booking, reschedule, series, alternatives) comes through here."""
    # Time held for someone not booked yet (a waitlist offer's lock) is as taken as a booking.
    # The three reads go out together: one round trip's wait.
    bookings, holds, calendars = await asyncio.gather(
        _occupying(Booking, provider_ids, start, end, status={"$in": list(SLOT_HOLDING)}),
        _occupying(SlotHold, provider_ids, start, end),
        calendar_busy(provider_ids, start, end),
    )
    busy: Busy = {p: [] for p in provider_ids}
    for row in [*bookings, *holds]:
        busy[row["provider_id"]].append(
            (as_utc(row["occupied_start"]), as_utc(row["occupied_end"]))
        )
    for provider_id, intervals in calendars.items():
        busy[provider_id] += intervals
    return busy


async def _occupying(
    kind: type[Booking] | type[SlotHold],
    provider_ids: list[PydanticObjectId],
    start: datetime,
    end: datetime,
    **more: object,
) -> list[dict[str, Any]]:
    """The occupied intervals of `kind`'s documents reaching into [start, end)."""
    cursor = kind.get_pymongo_collection().find(
        {
            "provider_id": {"$in": provider_ids},
            # Bounded below: the provider's index is walked over days, not all its history.
            "occupied_start": {"$lt": end, "$gt": start - LONGEST_OCCUPIED},
            "occupied_end": {"$gt": start},
            **more,
        },
        projection={"_id": 0, "provider_id": 1, "occupied_start": 1, "occupied_end": 1},
    )
    rows: list[dict[str, Any]] = await cursor.to_list()
    return rows


def provider_slots(
    provider: Provider,
    service: Service,
    *,
    busy: list[tuple[datetime, datetime]],
    now: datetime,
    window: tuple[datetime, datetime],
) -> list[OfferedSlot]:
    slots: list[Slot] = generate_slots(
        tz=ZoneInfo(provider.timezone),
        rules=weekly_rules(provider),
        exceptions=date_exceptions(provider),
        spec=slot_spec(service),
        busy=busy,
        now=now,
        window_start=window[0],
        window_end=window[1],
    )
    return [OfferedSlot(str(provider.id), s.start, s.end) for s in slots]


async def _busy_for(
    service: Service, providers: list[Provider], window: tuple[datetime, datetime]
) -> Busy:
    """Every booking that could touch a slot starting in `window`."""
    reach = timedelta(
        minutes=service.duration_minutes
        + service.buffer_before_minutes
        + service.buffer_after_minutes
    )
    ids = [p.id for p in providers if p.id]
    return await busy_intervals(ids, window[0] - reach, window[1] + reach)


def _offered(
    service: Service,
    providers: list[Provider],
    busy: Busy,
    now: datetime,
    window: tuple[datetime, datetime],
) -> list[OfferedSlot]:
    found: list[OfferedSlot] = []
    for provider in providers:
        found += provider_slots(provider, service, busy=busy[provider.id], now=now, window=window)  # type: ignore[index]
    found.sort(key=lambda s: (s.start, s.provider_id))
    return found


# One page holds about this many slots (never cut between providers sharing a start time).
DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
# Above this many candidate slots, generation leaves the event loop for a thread.
INLINE_SLOTS = 2000


@dataclass(frozen=True, slots=True)
class SlotPage:
    """Slots in `timezone`'s terms; `following` is where the next page starts (None: no more)."""

    timezone: ZoneInfo
    slots: list[OfferedSlot]
    following: datetime | None


def daily_capacity(service: Service, providers: list[Provider]) -> float:
    """At most how many slots a day the providers' weekly hours hold, on average."""
    step = service.slot_step_minutes
    minutes = sum(
        (_minutes(rule.end) - _minutes(rule.start)) for p in providers for rule in p.rules
    )
    return minutes / step / 7


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def estimated_slots(
    service: Service, providers: list[Provider], window: tuple[datetime, datetime]
) -> float:
    return daily_capacity(service, providers) * (window[1] - window[0]) / timedelta(days=1)


def offered_page(
    service: Service,
    providers: list[Provider],
    busy: Busy,
    now: datetime,
    window: tuple[datetime, datetime],
    limit: int,
) -> tuple[list[OfferedSlot], datetime | None]:
    """The first `limit` or so slots of `window` and the start of the rest, generated a stretch
    at a time so the work stays near `limit` however long the window is."""
    span = window[1] - window[0]
    per_day = daily_capacity(service, providers)
    days_needed = (limit + 1) / per_day if per_day else math.inf
    stretch = span if days_needed >= span.days + 1 else timedelta(days=max(1.0, days_needed))
    found: list[OfferedSlot] = []
    lo = window[0]
    while lo < window[1]:
        hi = min(lo + stretch, window[1])
        found += _offered(service, providers, busy, now, (lo, hi))
        if (page := _cut(found, limit)) is not None:
            return page
        lo = hi
    return found, None


def _cut(found: list[OfferedSlot], limit: int) -> tuple[list[OfferedSlot], datetime] | None:
    """`found` cut after about `limit` slots, between two start times, or None if it cannot be
    cut yet. The first start time is kept whole even if more providers share it than `limit`."""
    if len(found) <= limit:
        return None
    first = found[0].start
    cut = next((s.start for s in found[limit:] if s.start > first), None)
    if cut is None:
        return None
    return [s for s in found if s.start < cut], cut


# Where `nearest_free` looks: a day either side of the target, then up to a fortnight ahead.
NEAREST_SPANS = ((timedelta(days=1), timedelta(days=1)), (timedelta(days=3), timedelta(days=14)))
# Within a span it generates slots close to the target first: when a radius holds enough, every
# slot further out is further away, so the rest of the span need not be generated.
NEAR_RADII = (timedelta(hours=3), timedelta(hours=12))
_EDGE = timedelta(seconds=1)  # makes a radius window's end inclusive, like its start


@dataclass(frozen=True, slots=True)
class Surroundings:
    """The bookings a day either side of a target instant, read as of `now`."""

    target: datetime
    now: datetime
    span: tuple[datetime, datetime]
    busy: Busy

    def is_free(self, provider_id: PydanticObjectId, start: datetime, end: datetime) -> bool:
        return all(b <= start or a >= end for a, b in self.busy.get(provider_id, []))


def _span(
    target: datetime, now: datetime, reach: tuple[timedelta, timedelta]
) -> tuple[datetime, datetime]:
    return max(target - reach[0], now), target + reach[1]


async def surroundings(
    service: Service, providers: list[Provider], target: datetime, now: datetime
) -> Surroundings:
    span = _span(target, now, NEAREST_SPANS[0])
    return Surroundings(target, now, span, await _busy_for(service, providers, span))


async def nearest_free(
    service: Service,
    providers: list[Provider],
    provider_id: str,
    count: int,
    around: Surroundings,
) -> list[OfferedSlot]:
    """The `count` free slots nearest to `around.target`, the given provider first on a tie.

    The first span is `around`, already read; a further span is read only if it is too full.
    """
    target, now = around.target, around.now
    found: list[OfferedSlot] = []
    for reach in NEAREST_SPANS:
        span = _span(target, now, reach)
        if span[0] >= span[1]:
            continue
        busy = around.busy if span == around.span else await _busy_for(service, providers, span)
        radii = [(max(target - r, span[0]), min(target + r + _EDGE, span[1])) for r in NEAR_RADII]
        for window in (*radii, span):
            found = _offered(service, providers, busy, now, window)
            if len(found) >= count:
                return nearest(found, target, provider_id, count)
    return nearest(found, target, provider_id, count)


async def service_offering(
    service_id: str, provider_id: str | None
) -> tuple[Service, list[Provider]]:
    """The service and its providers, or just the one asked for."""
    service, providers = await service_with_providers(service_id)
    providers = bookable(service, providers)
    if provider_id is None:
        return service, providers
    return service, [await offering_provider(providers, provider_id)]


def bookable(service: Service, providers: list[Provider]) -> list[Provider]:
    """The providers of `service` that new bookings (and moves) may go to: none of an archived
    service, and never an archived provider. Bookings already made are not affected."""
    if service.archived:
        raise Invalid(
            "That service is no longer offered; please choose another.", code="service_archived"
        )
    return [p for p in providers if not p.archived]


async def offering_provider(providers: list[Provider], provider_id: str) -> Provider:
    """The provider asked for, among those offering a service: 404 if there is no such
    provider at all, 422 if they do not offer it (or no longer take bookings)."""
    wanted = object_id(provider_id, "provider")
    for provider in providers:
        if provider.id == wanted:
            return provider
    if (await get_provider(provider_id)).archived:
        raise Invalid(
            "That practitioner no longer takes bookings; please choose another.",
            code="provider_archived",
        )
    raise Invalid("That provider does not offer this service.", code="provider_not_offering")


MAX_DAYS = 62


def check_horizon(start: datetime, now: datetime, horizon_days: int) -> None:
    """Nothing starting `horizon_days` or more after `now` is offered or booked."""
    if start >= now + timedelta(days=horizon_days):
        raise Invalid(
            f"Bookings open at most {horizon_days} days ahead; please choose an earlier time.",
            code="beyond_horizon",
        )


def local_window(
    ctx: Context, *, tz: ZoneInfo, from_date: date | None, days: int
) -> tuple[datetime, datetime]:
    """`days` local days from `from_date`, cut where the booking horizon ends. A window that
    starts in the past simply offers nothing before now (it may reach into today)."""
    horizon = ctx.settings.booking_horizon_days
    now = ctx.now()
    today = now.astimezone(tz).date()
    first = from_date or today
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_DAYS}.", code="invalid_days")
    # Checked before any arithmetic on `first`: 9999-12-31 plus a day does not exist.
    if first > today + timedelta(days=horizon):
        raise Invalid(f"from must be within {horizon} days from today.", code="beyond_horizon")
    last = first + timedelta(days=days)
    if first < today - timedelta(days=1):  # 0001-01-01 has no UTC equivalent east of Greenwich
        first = today - timedelta(days=1)
    if last <= first:
        return now, now
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last, time(), tz)
    return as_utc(start), min(as_utc(end), now + timedelta(days=horizon))


async def find_availability(
    ctx: Context,
    *,
    service_id: str,
    provider_id: str | None,
    from_date: date | None,
    days: int,
    tz_name: str,
    limit: int = DEFAULT_LIMIT,
    cursor: datetime | None = None,
) -> SlotPage:
    """One page of the bookable slots in the window: at most about `limit` of them."""
    tz = zone(tz_name)
    window = local_window(ctx, tz=tz, from_date=from_date, days=days)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}.", code="invalid_limit")
    if cursor is not None:
        window = _from_cursor(window, cursor)
    service, providers = await service_offering(service_id, provider_id)
    if window[0] >= window[1]:
        return SlotPage(tz, [], None)
    busy = await _busy_for(service, providers, window)
    args = (service, providers, busy, ctx.now(), window, limit)
    if estimated_slots(service, providers, window) > INLINE_SLOTS:
        # Generation is pure CPU; a big window runs in a thread so the event loop keeps
        # answering other requests meanwhile.
        slots, following = await asyncio.to_thread(offered_page, *args)
    else:
        slots, following = offered_page(*args)
    return SlotPage(tz, slots, following)


def _from_cursor(window: tuple[datetime, datetime], cursor: datetime) -> tuple[datetime, datetime]:
    """The part of `window` from `cursor` on. Compared before converting: a cursor such as
    0001-01-01T00:00+14:00 has no UTC equivalent, but it is still before the window."""
    if cursor.tzinfo is None:
        cursor = cursor.replace(tzinfo=UTC)
    if cursor >= window[1]:
        return window[1], window[1]
    return (as_utc(cursor), window[1]) if cursor > window[0] else window


def as_local(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat()


def nearest(
    slots: list[OfferedSlot], target: datetime, provider_id: str, count: int
) -> list[OfferedSlot]:
    """The `count` slots closest in time to `target`, the same provider first on a tie."""
    ranked = sorted(
        slots, key=lambda s: (abs(s.start - target), s.provider_id != provider_id, s.start)
    )
    return sorted(ranked[:count], key=lambda s: (s.start, s.provider_id))


def slot_dict(slot: OfferedSlot, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "provider_id": slot.provider_id,
        "start": iso_z(slot.start),
        "end": iso_z(slot.end),
        "start_local": as_local(slot.start, tz),
    }


async def calendar_conflict(
    provider_id: PydanticObjectId, occupied: tuple[datetime, datetime]
) -> bool:
    """Whether the provider's own calendar is busy during an interval a booking would occupy.
    The booking path asks before its transaction: busy time read from a calendar holds no claim
    units, so no transaction could make it collide (a sync that lands between this look and the
    commit is the same race as a calendar event added a moment after the booking)."""
    return await calendar_busy_at(provider_id, occupied[0], occupied[1])
