"""Pure slot generation: rules, busy intervals and an instant "now" in, bookable slots out.

Rules and exceptions are local wall-clock times in the provider's zone; every instant that
crosses this module's boundary is aware UTC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BusyIndex", "DateException", "Slot", "SlotSpec", "WeeklyRule", "generate_slots"]

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)

# A local wall-clock window [start, end) within one day.
_Window = tuple[time, time]


def _check_window(start: time, end: time) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("window times must be naive local wall-clock times")
    if end <= start:
        raise ValueError(f"window end {end} must be after start {start} on the same day")


def _to_utc(name: str, value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """Open every `weekday` from `start` to `end`, naive local wall-clock times, same day.

    An `end` of time.max means 24:00, the end of that local day."""

    weekday: int  # 0 = Monday ... 6 = Sunday
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")
        _check_window(self.start, self.end)


@dataclass(frozen=True, slots=True)
class DateException:
    """For one local date: no times closes the day; times give a window that replaces the
    weekly rules (several entries give several windows; any closing entry wins). As in
    WeeklyRule, an `end` of time.max means 24:00."""

    date: date
    start: time | None = None
    end: time | None = None

    def __post_init__(self) -> None:
        # A datetime would never equal the plain dates it is looked up by.
        if isinstance(self.date, datetime):
            raise ValueError("DateException.date must be a date, not a datetime")
        if (self.start is None) != (self.end is None):
            raise ValueError("DateException needs both start and end, or neither")
        if self.start is not None and self.end is not None:
            _check_window(self.start, self.end)


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """Slot length, buffers kept free around it, grid step (local time) and minimum notice."""

    duration: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    step: timedelta
    min_notice: timedelta

    def __post_init__(self) -> None:
        if self.duration <= _ZERO or self.step <= _ZERO:
            raise ValueError("duration and step must be positive")
        if min(self.buffer_before, self.buffer_after, self.min_notice) < _ZERO:
            raise ValueError("buffers and min_notice must not be negative")


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable slot as aware UTC instants; `end - start` is the elapsed duration."""

    start: datetime
    end: datetime


class _BusyIndex:
    """Busy intervals merged into disjoint, sorted runs so one bisect answers each query."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, busy: Sequence[tuple[datetime, datetime]]) -> None:
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        pairs = sorted((_to_utc("busy", a), _to_utc("busy", b)) for a, b in busy)
        for start, end in pairs:
            if end <= start:
                continue  # an empty half-open interval occupies nothing
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def is_free(self, start: datetime, end: datetime) -> bool:
        # Runs are disjoint and sorted, so their ends are sorted too: the first run ending
        # after `start` is the only one that can still overlap [start, end).
        i = bisect_right(self._ends, start)
        return i == len(self._starts) or self._starts[i] >= end


# Checking many intervals against one provider's busy time (a recurring series' occurrences).
BusyIndex = _BusyIndex


def _rules_by_weekday(rules: Sequence[WeeklyRule]) -> dict[int, list[_Window]]:
    by_weekday: dict[int, list[_Window]] = {}
    for rule in rules:
        by_weekday.setdefault(rule.weekday, []).append((rule.start, rule.end))
    return by_weekday


def _exception_windows(exceptions: Sequence[DateException]) -> dict[date, list[_Window]]:
    by_date: dict[date, list[_Window]] = {}
    closed: set[date] = set()
    for exc in exceptions:
        windows = by_date.setdefault(exc.date, [])
        if exc.start is None or exc.end is None:
            closed.add(exc.date)
        else:
            windows.append((exc.start, exc.end))
    for day in closed:
        by_date[day] = []
    return by_date


def _wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    # `time` cannot say 24:00, so time.max stands for the end of the local day.
    if at == time.max:
        return datetime.combine(day + _ONE_DAY, time(0), tz)
    # fold=0: an ambiguous time means its first occurrence; a gap edge resolves like zoneinfo.
    return datetime.combine(day, at, tz).replace(fold=0)


def _window_starts(
    day: date, window: _Window, tz: ZoneInfo, spec: SlotSpec, lo: datetime, hi: datetime
) -> Iterator[datetime]:
    """UTC starts on the window's wall-clock grid that exist, fit inside the window as real
    instants, and fall in [lo, hi)."""
    wall, wall_end = _wall(day, window[0], tz), _wall(day, window[1], tz)
    first = wall.astimezone(UTC)
    last = wall_end.astimezone(UTC) - spec.duration
    if first >= hi or last < lo:
        return
    # A grid point's instant is its wall time minus the offset at one end of the window or the
    # other, so it strays from evenly spaced instants by at most the change between the two.
    # Grid points further than `slack` before `lo` or after `hi` cannot be wanted: skip them.
    shift = (wall.utcoffset() or _ZERO) - (wall_end.utcoffset() or _ZERO)
    slack = 2 * abs(shift) + spec.step
    if lo - slack > first:
        wall += (lo - slack - first) // spec.step * spec.step
    # Both operands carry the same tzinfo, so `<`, `==` and `+=` act on wall-clock fields;
    # that is what steps the grid in local time and makes the round trip below detect gaps.
    while wall < wall_end:
        instant = wall.astimezone(UTC)
        if instant >= hi + slack:
            return
        if first <= instant <= last and lo <= instant < hi and instant.astimezone(tz) == wall:
            yield instant
        wall += spec.step


def _local_days(tz: ZoneInfo, window_start: datetime, window_end: datetime) -> Iterator[date]:
    day = window_start.astimezone(tz).date() - _ONE_DAY
    last = window_end.astimezone(tz).date() + _ONE_DAY
    while day <= last:
        yield day
        day += _ONE_DAY


def _windows_for(
    day: date,
    by_weekday: Mapping[int, list[_Window]],
    by_date: Mapping[date, list[_Window]],
) -> list[_Window]:
    if day in by_date:
        return by_date[day]
    return by_weekday.get(day.weekday(), [])


def generate_slots(
    *,
    tz: ZoneInfo,
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[DateException],
    spec: SlotSpec,
    busy: Sequence[tuple[datetime, datetime]],
    now: datetime,
    window_start: datetime,
    window_end: datetime,
) -> list[Slot]:
    """Bookable slots with window_start <= start < window_end, sorted by start, no duplicates."""
    window_start = _to_utc("window_start", window_start)
    window_end = _to_utc("window_end", window_end)
    lo = max(window_start, _to_utc("now", now) + spec.min_notice)
    if lo >= window_end:
        return []
    index = _BusyIndex(busy)
    by_weekday, by_date = _rules_by_weekday(rules), _exception_windows(exceptions)
    before, reach = spec.buffer_before, spec.duration + spec.buffer_after
    starts: set[datetime] = set()
    for day in _local_days(tz, window_start, window_end):
        for window in _windows_for(day, by_weekday, by_date):
            for start in _window_starts(day, window, tz, spec, lo, window_end):
                if index.is_free(start - before, start + reach):
                    starts.add(start)
    return [Slot(start, start + spec.duration) for start in sorted(starts)]
