"""The no-overlap guarantee's arithmetic: which claim units a booking occupies.

A booking claims every five-minute unit its buffered interval touches, rounding outwards, so two
bookings whose intervals intersect always share at least one claim `_id`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UNIT = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def occupied_span(
    start: datetime, end: datetime, before: timedelta, after: timedelta
) -> tuple[datetime, datetime]:
    """The buffered interval, widened to whole claim units."""
    low = start - before
    high = end + after
    low_units = (low - _EPOCH) // UNIT
    high_units = -((_EPOCH - high) // UNIT)  # ceiling division
    return _EPOCH + low_units * UNIT, _EPOCH + high_units * UNIT


def claim_ids(provider_id: str, occupied_start: datetime, occupied_end: datetime) -> list[str]:
    first = (occupied_start - _EPOCH) // UNIT
    last = -((_EPOCH - occupied_end) // UNIT)
    return [f"{provider_id}:{unit}" for unit in range(first, last)]


def unit_of(instant: datetime) -> int:
    """The number of the claim unit `instant` falls in."""
    return (instant - _EPOCH) // UNIT
