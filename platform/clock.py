"""Injected time: everything that depends on "now" receives a clock or an instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holdfast.errors import Invalid

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """MongoDB hands back naive UTC datetimes; make them aware again."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """The API's one instant format: ISO 8601 UTC ending in Z."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def zone(name: str) -> ZoneInfo:
    """An IANA timezone, or a 422 naming the bad value."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"'{name}' is not an IANA timezone such as Europe/London.", code="invalid_timezone"
        ) from None
