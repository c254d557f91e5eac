"""Shared pieces of the API's JSON shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import available_timezones

from holdfast.clock import iso_z
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PlainSerializer

# Every instant leaves the API as ISO 8601 UTC ending in Z.
UtcInstant = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="always")]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise ValueError("is not an instant between the years 1 and 9999 in UTC") from None


# Every IANA zone name this installation knows: what a `timezone` field or parameter accepts.
TIMEZONE_NAMES = sorted(available_timezones())


# An instant a request sends: with its offset, turned into UTC as it is read.
InstantIn = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Input(BaseModel):
    """Request bodies: unknown fields are refused so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
