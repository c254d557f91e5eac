"""The practice's bookings as the console lists them: filtered, in start order, each with its
client, practitioner, service, payment and meeting named (`GET /api/admin/bookings`, its CSV
export and the day's sessions per practitioner, `GET /api/admin/today`).

Every filter is an equality or a range on `start`, so each query walks one index
(`Booking.Settings.indexes`: the provider's, the service's, the client's, the status's, or
`start_id_end`) over the asked window only, however many bookings there are.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.service import users_by_id
from holdfast.bookings.models import SLOT_HOLDING, Booking, BookingStatus
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import list_providers
from holdfast.clock import as_utc
from holdfast.db import by_id
from holdfast.errors import Invalid
from holdfast.paging import PageRequest, Segment, read_page
from holdfast.payments.models import Payment

ORDER = (("start", 1), ("_id", 1))
# A day's sessions are listed whole, not paged; a practice never has this many in a day.
DAY_AT_MOST = 2000
UTC_ZONE = ZoneInfo("UTC")
# The CSV export reads and names its rows this many at a time.
EXPORT_BATCH = 500


# The shape of a `from`/`to` value: a date, or a date and time with or without an offset.
BOUND_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"


class InvalidFilter(Invalid):
    code = "invalid_filter"


@dataclass(frozen=True, slots=True)
class AgendaFilter:
    """Which bookings: each field narrows the list; `lo`/`hi` bound the start, [lo, hi)."""

    provider_id: PydanticObjectId | None = None
    service_id: PydanticObjectId | None = None
    user_id: PydanticObjectId | None = None
    statuses: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    lo: datetime | None = None
    hi: datetime | None = None
    zone: ZoneInfo = UTC_ZONE  # where dates were read, and times are written (CSV)

    def where(self) -> dict[str, Any]:
        where: dict[str, Any] = {}
        for name in ("provider_id", "service_id", "user_id"):
            if (value := getattr(self, name)) is not None:
                where[name] = value
        if self.statuses:
            where["status"] = {"$in": list(self.statuses)}
        if self.sources:
            where["source"] = {"$in": list(self.sources)}
        if self.lo is not None or self.hi is not None:
            where["start"] = {
                **({"$gte": self.lo} if self.lo is not None else {}),
                **({"$lt": self.hi} if self.hi is not None else {}),
            }
        return where

    def listing(self) -> str:
        """The list's name in its cursors: a cursor of other filters is refused, not misread."""
        parts = [
            str(self.provider_id), str(self.service_id), str(self.user_id),
            sorted(self.statuses), sorted(self.sources),
            self.lo.isoformat() if self.lo else None, self.hi.isoformat() if self.hi else None,
        ]  # fmt: skip
        return "agenda:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def filter_id(value: str | None, what: str) -> PydanticObjectId | None:
    if value is None:
        return None
    if not PydanticObjectId.is_valid(value):
        raise InvalidFilter(f"{what} '{value}' is not an id.")
    return PydanticObjectId(value)


def bound(value: str | None, tz: ZoneInfo, *, upper: bool) -> datetime | None:
    """A `from`/`to` query value: a date is that whole local day in `tz` (`to` includes it), a
    date and time without an offset is a wall-clock time in `tz`."""
    if value is None:
        return None
    try:
        if re.fullmatch(BOUND_PATTERN, value) is None:
            raise ValueError(value)
        if len(value) == 10:
            day = date.fromisoformat(value)
            return as_utc(datetime.combine(day + timedelta(days=1 if upper else 0), time(), tz))
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return as_utc(instant if instant.tzinfo else instant.replace(tzinfo=tz))
    except (ValueError, OverflowError):
        raise InvalidFilter(
            f"'{value}' is not a date (YYYY-MM-DD) or a date and time (ISO 8601).",
            code="invalid_date",
        ) from None


def agenda_filter(
    *,
    tz: ZoneInfo,
    provider_id: str | None = None,
    service_id: str | None = None,
    user_id: str | None = None,
    statuses: Sequence[str] = (),
    sources: Sequence[str] = (),
    start_from: str | None = None,
    start_to: str | None = None,
) -> AgendaFilter:
    """The filter a request asks for, or a 422 naming what is wrong with it."""
    known = get_args(BookingStatus)
    for status in statuses:
        if status not in known:
            raise InvalidFilter(f"'{status}' is not a booking status ({', '.join(known)}).")
    lo, hi = bound(start_from, tz, upper=False), bound(start_to, tz, upper=True)
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidFilter("`to` must come after `from`.", code="invalid_date")
    return AgendaFilter(
        provider_id=filter_id(provider_id, "provider_id"),
        service_id=filter_id(service_id, "service_id"),
        user_id=filter_id(user_id, "user_id"),
        statuses=tuple(dict.fromkeys(statuses)),
        sources=tuple(dict.fromkeys(sources)),
        lo=lo,
        hi=hi,
        zone=tz,
    )


@dataclass(frozen=True, slots=True)
class AgendaEntry:
    """A booking with whom and what it is for, as the console shows it."""

    booking: Booking
    client: User | None
    provider: Provider | None
    service: Service | None
    payment: Payment | None


async def describe(bookings: Sequence[Booking]) -> list[AgendaEntry]:
    """Name each booking's client, practitioner, service and payment, in four round trips
    whatever the number of bookings."""
    clients = await users_by_id(b.user_id for b in bookings)
    providers = await by_id(Provider, (b.provider_id for b in bookings))
    services = await by_id(Service, (b.service_id for b in bookings))
    ids = [b.id for b in bookings]
    payments = {p.booking_id: p for p in await Payment.find({"booking_id": {"$in": ids}}).to_list()}
    return [
        AgendaEntry(
            booking=b,
            client=clients.get(b.user_id),
            provider=providers.get(b.provider_id),
            service=services.get(b.service_id),
            payment=payments.get(b.id),  # type: ignore[arg-type]
        )
        for b in bookings
    ]


async def agenda_page(
    chosen: AgendaFilter, page: PageRequest
) -> tuple[list[AgendaEntry], str | None]:
    """One page of the filtered bookings, soonest first."""
    found = await read_page(
        Booking, [Segment(chosen.where(), ORDER)], page, listing=chosen.listing()
    )
    return await describe(found.items), found.next_cursor


async def agenda_batches(chosen: AgendaFilter) -> AsyncIterator[list[AgendaEntry]]:
    """Every filtered booking, soonest first, a batch at a time (for the export): one cursor,
    never the whole set in memory."""
    cursor = Booking.get_pymongo_collection().find(
        chosen.where(), sort=list(ORDER), batch_size=EXPORT_BATCH
    )
    batch: list[Booking] = []
    async for raw in cursor:
        batch.append(Booking.model_validate(raw))
        if len(batch) == EXPORT_BATCH:
            yield await describe(batch)
            batch = []
    if batch:
        yield await describe(batch)


@dataclass(slots=True)
class PractitionerDay:
    provider: Provider
    sessions: list[AgendaEntry] = field(default_factory=list)


async def day_sessions(day: date, tz: ZoneInfo) -> list[PractitionerDay]:
    """The slot-holding sessions that start on `day` (local to `tz`), grouped by practitioner:
    every bookable practitioner (a free day shows as free), plus any archived one who still has
    a session that day; by name."""
    chosen = AgendaFilter(
        statuses=SLOT_HOLDING,
        lo=as_utc(datetime.combine(day, time(), tz)),
        hi=as_utc(datetime.combine(day + timedelta(days=1), time(), tz)),
    )
    raw = Booking.get_pymongo_collection().find(chosen.where(), sort=list(ORDER), limit=DAY_AT_MOST)
    entries = await describe([Booking.model_validate(doc) async for doc in raw])
    days = {p.id: PractitionerDay(p) for p in await list_providers()}
    for entry in entries:
        if entry.provider is None:
            continue  # its practitioner was deleted outright, which the catalog never does
        days.setdefault(entry.provider.id, PractitionerDay(entry.provider)).sessions.append(entry)
    return sorted(days.values(), key=lambda d: (d.provider.name.casefold(), str(d.provider.id)))
