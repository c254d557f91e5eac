"""Recurrence rules (RFC 5545 `RRULE`) expanded at one local wall-clock time.

Pure: a rule, a local start and a zone in; occurrences out. The rule is expanded in local
wall-clock time (python-dateutil) and only then each occurrence is turned into an instant, so a
weekly 09:00 stays 09:00 on both sides of a clock change. RFC 5545 (3.3.5, 3.8.5.3) says how a
local time that does not exist or exists twice is read: one in a spring-forward gap is read
with the offset before the gap (02:30 becomes 03:30 that day), one that repeats means its first
occurrence. zoneinfo's `fold=0` does exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from holdfast.errors import Invalid

# Sessions recur by the day at the finest; the time of day is the series' own.
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS"}
PARTS |= {"BYYEARDAY", "BYWEEKNO", "WKST"}
MAX_COUNT = 1000
MAX_INTERVAL = 520
_UNTIL = re.compile(r"^(\d{8})(T(\d{6})(Z?))?$")


class RecurrenceInvalid(Invalid):
    code = "invalid_rrule"


@dataclass(frozen=True, slots=True)
class Occurrence:
    local: datetime  # naive wall-clock time in the series' zone
    start: datetime  # the instant, aware UTC


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A rule (without its UNTIL, which is applied to instants here) at `start_local` in `tz`."""

    rule: Any  # a dateutil rrule, COUNT included
    tz: ZoneInfo
    start_local: datetime
    until: datetime | None  # aware UTC: no occurrence after it
    count: int | None

    def between(self, lo: datetime, hi: datetime) -> list[Occurrence]:
        """The occurrences whose instants fall in [lo, hi), in order."""
        found = []
        for occurrence in self.iterate():
            if occurrence.start >= hi:
                break
            if occurrence.start >= lo:
                found.append(occurrence)
        return found

    def iterate(self) -> Iterator[Occurrence]:
        for local in self.rule:
            start = instant(local, self.tz)
            if self.until is not None and start > self.until:
                return
            yield Occurrence(local, start)

    def first_from(self, at: datetime) -> Occurrence | None:
        """The first occurrence at or after `at`; None if the rule has ended by then."""
        return next((o for o in self.iterate() if o.start >= at), None)

    def finite(self) -> bool:
        return self.until is not None or self.count is not None


def instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time, read as RFC 5545 reads it."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def parse_rule(
    text: str,
    *,
    start_local: datetime,
    tz: ZoneInfo,
    count: int | None = None,
    until: datetime | None = None,
) -> Recurrence:
    """Read an `RRULE` value (with or without the `RRULE:` prefix). `count` and `until` may be
    given here instead of in the rule, not both ways at once; a 422 says what is wrong."""
    if start_local.tzinfo is not None:
        raise RecurrenceInvalid("start_local is a wall-clock time without an offset.")
    parts = _parts(text)
    rule_count = parts.pop("COUNT", None)
    rule_until = parts.pop("UNTIL", None)
    if (count is not None and rule_count is not None) or (
        until is not None and rule_until is not None
    ):
        raise RecurrenceInvalid("Give COUNT and UNTIL either in the rule or as fields, not both.")
    if rule_count is not None:
        count = _number("COUNT", rule_count, 1, MAX_COUNT)
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise RecurrenceInvalid(f"count must be between 1 and {MAX_COUNT}.")
    if rule_until is not None:
        until = _until(rule_until, tz)
    if until is not None:
        if until.tzinfo is None:
            raise RecurrenceInvalid("until must carry a timezone offset.")
        until = until.astimezone(UTC)
    if count is not None:
        parts["COUNT"] = str(count)
    body = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        rule = rrulestr(body, dtstart=start_local.replace(second=0, microsecond=0))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RecurrenceInvalid(f"The rule cannot be read: {exc}.") from None
    return Recurrence(rule, tz, start_local, until, count)


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    parts: dict[str, str] = {}
    for piece in filter(None, body.split(";")):
        key, sep, value = piece.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise RecurrenceInvalid(f"'{piece}' is not NAME=VALUE.")
        if key not in PARTS:
            raise RecurrenceInvalid(
                f"{key} is not supported: a series recurs by the day at its own start time "
                f"(use {', '.join(sorted(PARTS))})."
            )
        if key in parts:
            raise RecurrenceInvalid(f"{key} is given twice.")
        parts[key] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise RecurrenceInvalid(f"FREQ must be one of {', '.join(FREQUENCIES)}.")
    if "INTERVAL" in parts:
        _number("INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL)
    return parts


def _number(name: str, value: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise RecurrenceInvalid(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def _until(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as RFC 5545 writes it: a UTC time (…Z), a local time, or a date (the whole of that
    local day is included)."""
    found = _UNTIL.match(value)
    try:
        if found is None:
            raise ValueError(value)
        day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        if found.group(2) is None:
            return instant(datetime.combine(day + timedelta(days=1), time()), tz) - timedelta(
                microseconds=1
            )
        clock = found.group(3)
        at = datetime.combine(day, time(int(clock[:2]), int(clock[2:4]), int(clock[4:6])))
    except ValueError:
        raise RecurrenceInvalid(
            "UNTIL must look like 20270301T000000Z, 20270301T000000 or 20270301."
        ) from None
    return at.replace(tzinfo=UTC) if found.group(4) else instant(at, tz)
