"""`GET /api/admin/stats`: figures over a window, one section per domain."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from holdfast.clock import as_utc
from holdfast.errors import Invalid
from holdfast.payments.stats import PaymentStats, payment_stats
from holdfast.schemas import UtcInstant
from holdfast.waitlist.stats import WaitlistStats, waitlist_stats
from pydantic import BaseModel

DEFAULT_DAYS = 30
LONGEST = timedelta(days=366)


class Stats(BaseModel):
    start: UtcInstant
    end: UtcInstant
    waitlist: WaitlistStats
    payments: PaymentStats


def window(start: date | None, end: date | None, now: datetime) -> tuple[datetime, datetime]:
    """[from, to] as whole UTC days, `to` included; the last 30 days by default."""
    last = end or now.date()
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("from must not be after to.", code="invalid_window")
    lo = as_utc(datetime.combine(first, time()))
    hi = as_utc(datetime.combine(last, time())) + timedelta(days=1)
    if hi - lo > LONGEST:
        raise Invalid("The window may span at most 366 days.", code="invalid_window")
    return lo, hi


async def stats(start: date | None, end: date | None, now: datetime) -> Stats:
    lo, hi = window(start, end, now)
    return Stats(
        start=lo,
        end=hi,
        waitlist=await waitlist_stats(lo, hi),
        payments=await payment_stats(lo, hi),
    )
