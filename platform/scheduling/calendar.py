"""A practitioner's calendar: their bookings over local days, with whose each one is."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from holdfast.bookings.models import LONGEST_OCCUPIED, SLOT_HOLDING, Booking
from holdfast.catalog.service import get_provider
from holdfast.clock import as_utc
from holdfast.errors import Invalid
from holdfast.scheduling.agenda import describe
from holdfast.scheduling.schemas import AgendaItemOut
from pydantic import BaseModel, Field

MAX_DAYS = 31


class CalendarOut(BaseModel):
    timezone: str
    bookings: list[AgendaItemOut] = Field(
        description="Soonest first, each naming its client, service and payment."
    )


async def provider_calendar(provider_id: str, first_day: str, days: int) -> CalendarOut:
    """The provider's slot-holding bookings that start in `days` local days from `first_day`
    (YYYY-MM-DD), in the provider's own timezone, soonest first."""
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_DAYS}.", code="invalid_days")
    try:
        first = date.fromisoformat(first_day)
    except ValueError:
        raise Invalid(
            f"from '{first_day}' is not a date in YYYY-MM-DD form.", code="invalid_date"
        ) from None
    provider = await get_provider(provider_id)
    tz = ZoneInfo(provider.timezone)
    try:
        start = as_utc(datetime.combine(first, time(), tz))
        end = as_utc(datetime.combine(first + timedelta(days=days), time(), tz))
    except OverflowError:
        raise Invalid("from is out of range.", code="invalid_date") from None
    found = (
        await Booking.find(
            {
                "provider_id": provider.id,
                "start": {"$gte": start - LONGEST_OCCUPIED, "$lt": end},
                "end": {"$gt": start},
                "status": {"$in": list(SLOT_HOLDING)},
            }
        )
        .sort("start", "_id")
        .to_list()
    )
    return CalendarOut(
        timezone=provider.timezone,
        bookings=[AgendaItemOut.entry(e) for e in await describe(found)],
    )
