"""Unit and property tests for holdfast.availability.slots (pure, no I/O)."""

from __future__ import annotations

import random
import time as perf
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from holdfast.availability.slots import (
    DateException,
    Slot,
    SlotSpec,
    WeeklyRule,
    generate_slots,
)
from hypothesis import given, settings
from hypothesis import strategies as st

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
ZULU = ZoneInfo("UTC")

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONDAY = date(2026, 3, 2)
ALL_WEEK = range(7)


def make_spec(
    duration: int = 60, step: int | None = None, before: int = 0, after: int = 0, notice: int = 0
) -> SlotSpec:
    return SlotSpec(
        duration=duration * MIN,
        buffer_before=before * MIN,
        buffer_after=after * MIN,
        step=(step or duration) * MIN,
        min_notice=notice * MIN,
    )


def at(tz: ZoneInfo, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, fold=fold), tzinfo=tz)


def utc(tz: ZoneInfo, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return at(tz, day, hour, minute, fold).astimezone(UTC)


def exists(tz: ZoneInfo, day: date, hour: int, minute: int) -> bool:
    local = at(tz, day, hour, minute)
    return local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None)


def daily(start: time, end: time) -> list[WeeklyRule]:
    return [WeeklyRule(weekday, start, end) for weekday in ALL_WEEK]


def between(
    window_start: datetime,
    window_end: datetime,
    *,
    tz: ZoneInfo = ZULU,
    rules: Sequence[WeeklyRule] = (),
    exceptions: Sequence[DateException] = (),
    spec: SlotSpec | None = None,
    busy: Sequence[tuple[datetime, datetime]] = (),
    now: datetime | None = None,
) -> list[Slot]:
    """generate_slots with defaults; `now` is far in the past unless given."""
    return generate_slots(
        tz=tz,
        rules=rules,
        exceptions=exceptions,
        spec=spec or make_spec(),
        busy=busy,
        now=now or window_start - 30 * DAY,
        window_start=window_start,
        window_end=window_end,
    )


def run(
    tz: ZoneInfo,
    first: date,
    last: date | None = None,
    *,
    rules: Sequence[WeeklyRule] = (),
    exceptions: Sequence[DateException] = (),
    spec: SlotSpec | None = None,
    busy: Sequence[tuple[datetime, datetime]] = (),
    now: datetime | None = None,
) -> list[Slot]:
    """Slots for the whole local dates first..last."""
    return between(
        at(tz, first, 0).astimezone(UTC),
        at(tz, (last or first) + DAY, 0).astimezone(UTC),
        tz=tz,
        rules=rules,
        exceptions=exceptions,
        spec=spec,
        busy=busy,
        now=now,
    )


def walls(slots: Sequence[Slot], tz: ZoneInfo) -> list[time]:
    return [slot.start.astimezone(tz).time() for slot in slots]


def hm(*pairs: tuple[int, int]) -> list[time]:
    return [time(hour, minute) for hour, minute in pairs]


# --- plain days ---------------------------------------------------------------------------


def test_simple_day_gives_local_hours_at_the_right_instants() -> None:
    assert MONDAY.weekday() == 0
    rules = [WeeklyRule(0, time(9), time(12))]
    slots = run(NEW_YORK, MONDAY - 3 * DAY, MONDAY + 3 * DAY, rules=rules)
    # New York is on EST (UTC-5) in early March 2026, before the 8 March change.
    assert at(NEW_YORK, MONDAY, 9).utcoffset() == timedelta(hours=-5)
    assert [s.start for s in slots] == [
        datetime(2026, 3, 2, 14, tzinfo=UTC),
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    ]
    assert walls(slots, NEW_YORK) == hm((9, 0), (10, 0), (11, 0))
    for slot in slots:
        assert slot.end == slot.start + timedelta(hours=1)
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end.utcoffset() == timedelta(0)


def test_slot_must_fit_before_window_end() -> None:
    rules = [WeeklyRule(0, time(9), time(11, 30))]
    slots = run(ZULU, MONDAY, rules=rules, spec=make_spec(duration=60, step=30))
    assert walls(slots, ZULU) == hm((9, 0), (9, 30), (10, 0), (10, 30))


def test_step_shorter_and_longer_than_duration() -> None:
    rules = [WeeklyRule(0, time(9), time(12))]
    short = run(ZULU, MONDAY, rules=rules, spec=make_spec(duration=60, step=45))
    assert walls(short, ZULU) == hm((9, 0), (9, 45), (10, 30))
    long = run(ZULU, MONDAY, rules=rules, spec=make_spec(duration=30, step=90))
    assert walls(long, ZULU) == hm((9, 0), (10, 30))


def test_overlapping_rules_do_not_duplicate_slots() -> None:
    rules = [WeeklyRule(0, time(9), time(12)), WeeklyRule(0, time(10), time(13))]
    slots = run(ZULU, MONDAY, rules=rules)
    assert walls(slots, ZULU) == hm((9, 0), (10, 0), (11, 0), (12, 0))


# --- busy intervals and buffers -----------------------------------------------------------


def test_busy_blocks_only_overlapping_candidates_without_buffers() -> None:
    busy = [(utc(ZULU, MONDAY, 12), utc(ZULU, MONDAY, 13))]
    rules = [WeeklyRule(0, time(9), time(17))]
    slots = run(ZULU, MONDAY, rules=rules, spec=make_spec(duration=30), busy=busy)
    blocked = set(hm((9, 0), (9, 30), *[(h, m) for h in range(10, 17) for m in (0, 30)]))
    blocked -= set(walls(slots, ZULU))
    assert blocked == set(hm((12, 0), (12, 30)))


def test_buffers_block_touching_candidates_but_not_adjacent_ones() -> None:
    busy = [(utc(ZULU, MONDAY, 12), utc(ZULU, MONDAY, 13))]
    rules = [WeeklyRule(0, time(9), time(17))]
    spec = make_spec(duration=30, before=30, after=30)
    offered = set(walls(run(ZULU, MONDAY, rules=rules, spec=spec, busy=busy), ZULU))
    # 11:00 occupies [10:30, 12:00) and 13:30 occupies [13:00, 14:30): both only touch.
    assert {time(11, 0), time(13, 30)} <= offered
    assert not offered & set(hm((11, 30), (12, 0), (12, 30), (13, 0)))
    assert len(offered) == 16 - 4


def test_asymmetric_buffers() -> None:
    busy = [(utc(ZULU, MONDAY, 12), utc(ZULU, MONDAY, 13))]
    rules = [WeeklyRule(0, time(10), time(15))]
    spec = make_spec(duration=60, before=0, after=15)
    # [s, s + 75min) must avoid [12:00, 13:00): 10:45 is the last before, 13:00 the first after.
    offered = walls(run(ZULU, MONDAY, rules=rules, spec=spec, busy=busy), ZULU)
    assert offered == hm((10, 0), (13, 0), (14, 0))
    spec = make_spec(duration=60, before=15, after=0)
    offered = walls(run(ZULU, MONDAY, rules=rules, spec=spec, busy=busy), ZULU)
    assert offered == hm((10, 0), (11, 0), (14, 0))


def test_unsorted_overlapping_and_empty_busy_intervals() -> None:
    def u(hour: int, minute: int = 0) -> datetime:
        return utc(ZULU, MONDAY, hour, minute)

    busy = [
        (u(14), u(15)),
        (u(10), u(11, 30)),
        (u(11), u(11, 15)),
        (u(11, 20), u(12)),
        (u(16), u(16)),
    ]
    rules = [WeeklyRule(0, time(9), time(17))]
    spec = make_spec(duration=30)
    slots = run(ZULU, MONDAY, rules=rules, spec=spec, busy=busy)
    merged = run(ZULU, MONDAY, rules=rules, spec=spec, busy=[(u(10), u(12)), (u(14), u(15))])
    assert slots == merged
    assert walls(slots, ZULU) == hm(
        (9, 0), (9, 30), (12, 0), (12, 30), (13, 0), (13, 30), (15, 0), (15, 30), (16, 0), (16, 30)
    )


def test_busy_given_in_another_zone_is_the_same_instant() -> None:
    rules = [WeeklyRule(0, time(9), time(12))]
    as_utc = [(utc(ZULU, MONDAY, 10), utc(ZULU, MONDAY, 11))]
    as_ny = [(a.astimezone(NEW_YORK), b.astimezone(NEW_YORK)) for a, b in as_utc]
    assert run(ZULU, MONDAY, rules=rules, busy=as_utc) == run(ZULU, MONDAY, rules=rules, busy=as_ny)


# --- now, notice and the query window -----------------------------------------------------


def test_min_notice_is_inclusive() -> None:
    rules = [WeeklyRule(0, time(9), time(17))]
    spec = make_spec(duration=30, notice=120)
    exact = run(ZULU, MONDAY, rules=rules, spec=spec, now=utc(ZULU, MONDAY, 8))
    assert exact[0].start == utc(ZULU, MONDAY, 10)
    late = run(ZULU, MONDAY, rules=rules, spec=spec, now=utc(ZULU, MONDAY, 8, 1))
    assert late[0].start == utc(ZULU, MONDAY, 10, 30)


def test_only_slot_of_a_window_starting_exactly_at_notice_is_offered() -> None:
    rules = [WeeklyRule(0, time(9), time(10))]
    slots = run(ZULU, MONDAY, rules=rules, spec=make_spec(), now=utc(ZULU, MONDAY, 9))
    assert [s.start for s in slots] == [utc(ZULU, MONDAY, 9)]


def test_notice_past_everything_gives_nothing() -> None:
    rules = [WeeklyRule(0, time(9), time(17))]
    spec = make_spec(notice=60 * 24 * 10)
    assert run(ZULU, MONDAY, rules=rules, spec=spec, now=utc(ZULU, MONDAY, 0)) == []


def test_window_filters_on_start_only() -> None:
    rules = [WeeklyRule(0, time(9), time(17))]
    slots = generate_slots(
        tz=ZULU,
        rules=rules,
        exceptions=[],
        spec=make_spec(duration=60, step=30),
        busy=[],
        now=utc(ZULU, MONDAY, 0),
        window_start=utc(ZULU, MONDAY, 10),
        window_end=utc(ZULU, MONDAY, 11, 30),
    )
    # 11:00 ends after window_end and is still offered; 11:30 == window_end is not.
    assert walls(slots, ZULU) == hm((10, 0), (10, 30), (11, 0))


def test_window_in_the_past_or_empty_gives_nothing() -> None:
    rules = daily(time(9), time(17))
    start = utc(ZULU, MONDAY, 0)
    assert between(start, start, rules=rules, now=start) == []
    assert between(start, start - DAY, rules=rules, now=start - DAY) == []
    assert between(start, start + DAY, rules=rules, now=start + 9 * DAY) == []


def test_local_dates_near_window_edges_are_considered() -> None:
    # Kathmandu's Tuesday 04:00 is Monday 22:15 UTC: a UTC window on Monday must still see it.
    rules = [WeeklyRule(1, time(4), time(5))]
    slots = generate_slots(
        tz=KATHMANDU,
        rules=rules,
        exceptions=[],
        spec=make_spec(),
        busy=[],
        now=utc(ZULU, MONDAY, 0),
        window_start=utc(ZULU, MONDAY, 0),
        window_end=utc(ZULU, MONDAY + DAY, 0),
    )
    assert [s.start for s in slots] == [datetime(2026, 3, 2, 22, 15, tzinfo=UTC)]


def test_time_max_ends_the_window_at_midnight() -> None:
    rules = [WeeklyRule(0, time(22), time.max)]
    slots = run(LONDON, MONDAY, MONDAY + DAY, rules=rules)
    assert walls(slots, LONDON) == hm((22, 0), (23, 0))
    assert slots[-1].end == utc(LONDON, MONDAY + DAY, 0)
    exceptions = [DateException(MONDAY, time(23, 30), time.max)]
    slots = run(LONDON, MONDAY, rules=rules, exceptions=exceptions, spec=make_spec(duration=30))
    assert walls(slots, LONDON) == [time(23, 30)]


# --- exceptions ---------------------------------------------------------------------------


def test_closed_date_removes_only_that_date() -> None:
    rules = [WeeklyRule(0, time(9), time(11))]
    slots = run(ZULU, MONDAY, MONDAY + 7 * DAY, rules=rules, exceptions=[DateException(MONDAY)])
    assert {s.start.date() for s in slots} == {MONDAY + 7 * DAY}


def test_closed_wins_over_windows_on_the_same_date() -> None:
    exceptions = [DateException(MONDAY, time(13), time(15)), DateException(MONDAY)]
    rules = [WeeklyRule(0, time(9), time(11))]
    assert run(ZULU, MONDAY, rules=rules, exceptions=exceptions) == []


def test_exception_replaces_weekly_hours() -> None:
    rules = [WeeklyRule(0, time(9), time(11))]
    exceptions = [DateException(MONDAY, time(13), time(15))]
    slots = run(ZULU, MONDAY, rules=rules, exceptions=exceptions)
    assert walls(slots, ZULU) == hm((13, 0), (14, 0))


def test_two_exception_windows_on_one_date() -> None:
    rules = [WeeklyRule(0, time(9), time(11))]
    exceptions = [
        DateException(MONDAY, time(14), time(16)),
        DateException(MONDAY, time(9), time(10)),
    ]
    slots = run(ZULU, MONDAY, rules=rules, exceptions=exceptions)
    assert walls(slots, ZULU) == hm((9, 0), (14, 0), (15, 0))


def test_exception_opens_a_date_without_rules() -> None:
    sunday = MONDAY - DAY
    exceptions = [DateException(sunday, time(10), time(12))]
    slots = run(
        ZULU, sunday, MONDAY, rules=[WeeklyRule(0, time(9), time(10))], exceptions=exceptions
    )
    assert [s.start for s in slots] == [
        utc(ZULU, sunday, 10),
        utc(ZULU, sunday, 11),
        utc(ZULU, MONDAY, 9),
    ]


def test_exceptions_apply_to_local_dates() -> None:
    # 2026-03-03 00:00-02:00 in Kathmandu is still 2 March in UTC.
    tuesday = MONDAY + DAY
    exceptions = [DateException(tuesday, time(0), time(2))]
    slots = run(KATHMANDU, tuesday, exceptions=exceptions)
    assert [s.start for s in slots] == [
        datetime(2026, 3, 2, 18, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 19, 15, tzinfo=UTC),
    ]


# --- daylight saving time -----------------------------------------------------------------

TRANSITIONS = [
    (LONDON, date(2026, 3, 29)),
    (LONDON, date(2026, 10, 25)),
    (NEW_YORK, date(2026, 3, 8)),
    (NEW_YORK, date(2026, 11, 1)),
    (LORD_HOWE, date(2026, 10, 4)),
    (LORD_HOWE, date(2026, 4, 5)),
]


@pytest.mark.parametrize(("tz", "day"), TRANSITIONS, ids=lambda v: str(v))
def test_nine_oclock_stays_nine_oclock_across_a_change(tz: ZoneInfo, day: date) -> None:
    before, after = day - DAY, day + DAY
    # The date really is a transition: 09:00 has a different offset on either side.
    assert at(tz, before, 9).utcoffset() != at(tz, after, 9).utcoffset()
    slots = run(tz, before, after, rules=daily(time(9), time(10)))
    assert [s.start for s in slots] == [utc(tz, d, 9) for d in (before, day, after)]
    assert walls(slots, tz) == [time(9)] * 3


def test_known_offsets_around_the_changes() -> None:
    # Spot checks against the published rules, so a wrong tzdata cannot hide a wrong slot.
    assert utc(LONDON, date(2026, 3, 28), 9) == datetime(2026, 3, 28, 9, tzinfo=UTC)
    assert utc(LONDON, date(2026, 3, 30), 9) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert utc(NEW_YORK, date(2026, 11, 2), 9) == datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert utc(LORD_HOWE, date(2026, 10, 5), 9) == datetime(2026, 10, 4, 22, tzinfo=UTC)
    assert utc(LORD_HOWE, date(2026, 4, 6), 9) == datetime(2026, 4, 5, 22, 30, tzinfo=UTC)
    slots = run(LORD_HOWE, date(2026, 4, 6), rules=daily(time(9), time(10)))
    assert [s.start for s in slots] == [datetime(2026, 4, 5, 22, 30, tzinfo=UTC)]


def test_kathmandu_quarter_hour_offset() -> None:
    day = date(2026, 6, 15)
    assert at(KATHMANDU, day, 9).utcoffset() == timedelta(hours=5, minutes=45)
    slots = run(KATHMANDU, day, rules=daily(time(9), time(10)))
    assert [s.start for s in slots] == [datetime(2026, 6, 15, 3, 15, tzinfo=UTC)]


SPRING_GAPS = [
    # zone, date, rule, step (min), wall times expected, wall times in the gap
    (
        NEW_YORK,
        date(2026, 3, 8),
        (time(1), time(4)),
        30,
        hm((1, 0), (1, 30), (3, 0), (3, 30)),
        hm((2, 0), (2, 30)),
    ),
    (
        LONDON,
        date(2026, 3, 29),
        (time(0), time(3)),
        30,
        hm((0, 0), (0, 30), (2, 0), (2, 30)),
        hm((1, 0), (1, 30)),
    ),
    (
        LORD_HOWE,
        date(2026, 10, 4),
        (time(1), time(4)),
        15,
        hm(
            *[(h, m) for h in (1, 2, 3) for m in (0, 15, 30, 45) if (h, m) not in {(2, 0), (2, 15)}]
        ),
        hm((2, 0), (2, 15)),
    ),
]


@pytest.mark.parametrize(("tz", "day", "rule", "step", "expected", "gap"), SPRING_GAPS)
def test_spring_forward_skips_nonexistent_times(
    tz: ZoneInfo,
    day: date,
    rule: tuple[time, time],
    step: int,
    expected: list[time],
    gap: list[time],
) -> None:
    for t in gap:
        assert not exists(tz, day, t.hour, t.minute)
    for t in expected:
        assert exists(tz, day, t.hour, t.minute)
    rules = [WeeklyRule(day.weekday(), *rule)]
    slots = run(tz, day, rules=rules, spec=make_spec(duration=step, step=step))
    assert walls(slots, tz) == expected
    assert [s.start for s in slots] == [utc(tz, day, t.hour, t.minute) for t in expected]
    assert len({s.start for s in slots}) == len(slots)


def test_gap_time_off_the_grid_is_not_moved_onto_real_time() -> None:
    day = date(2026, 3, 8)
    # 02:30 does not exist; read with fold=0 it would be 03:30 EDT, which is not on the grid.
    assert not exists(NEW_YORK, day, 2, 30)
    rules = [WeeklyRule(day.weekday(), time(1), time(5))]
    slots = run(NEW_YORK, day, rules=rules, spec=make_spec(duration=45))
    assert walls(slots, NEW_YORK) == hm((1, 0), (1, 45), (3, 15), (4, 0))


FALL_BACKS = [
    # zone, date, rule, step (min), ambiguous wall times
    (NEW_YORK, date(2026, 11, 1), (time(0), time(3)), 30, hm((1, 0), (1, 30))),
    (LONDON, date(2026, 10, 25), (time(0), time(3)), 30, hm((1, 0), (1, 30))),
    (LORD_HOWE, date(2026, 4, 5), (time(1), time(3)), 15, hm((1, 30), (1, 45))),
]


@pytest.mark.parametrize(("tz", "day", "rule", "step", "ambiguous"), FALL_BACKS)
def test_fall_back_offers_ambiguous_times_once_at_first_occurrence(
    tz: ZoneInfo, day: date, rule: tuple[time, time], step: int, ambiguous: list[time]
) -> None:
    for t in ambiguous:
        first, second = at(tz, day, t.hour, t.minute), at(tz, day, t.hour, t.minute, fold=1)
        assert first.utcoffset() != second.utcoffset()
    rules = [WeeklyRule(day.weekday(), *rule)]
    slots = run(tz, day, rules=rules, spec=make_spec(duration=step, step=step))
    first_wall, end_wall = datetime.combine(day, rule[0]), datetime.combine(day, rule[1])
    grid = [
        (first_wall + k * step * MIN).time() for k in range((end_wall - first_wall) // (step * MIN))
    ]
    assert walls(slots, tz) == grid
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts))
    for t in ambiguous:
        assert utc(tz, day, t.hour, t.minute, fold=0) in starts
        assert utc(tz, day, t.hour, t.minute, fold=1) not in starts


def test_window_edge_in_a_gap_resolves_like_zoneinfo_fold_zero() -> None:
    day = date(2026, 3, 29)
    # 01:30 does not exist in London that day; fold=0 reads it as GMT, i.e. 02:30 BST.
    assert utc(LONDON, day, 1, 30) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    rules = [WeeklyRule(day.weekday(), time(1, 30), time(3))]
    slots = run(LONDON, day, rules=rules, spec=make_spec(duration=30))
    assert walls(slots, LONDON) == [time(2, 30)]


def test_rule_times_with_fold_one_are_read_as_first_occurrence() -> None:
    day = date(2026, 11, 1)
    rules = [WeeklyRule(day.weekday(), time(1, 0, fold=1), time(2))]
    slots = run(NEW_YORK, day, rules=rules, spec=make_spec(duration=30))
    assert [s.start for s in slots] == [utc(NEW_YORK, day, 1), utc(NEW_YORK, day, 1, 30)]


# --- determinism, validation, speed -------------------------------------------------------


def _busy_fortnight(seed: int, start: datetime) -> list[tuple[datetime, datetime]]:
    rnd = random.Random(seed)
    busy = []
    for _ in range(200):
        a = start + rnd.randrange(0, 14 * 24 * 60, 5) * MIN
        busy.append((a, a + rnd.choice([15, 30, 45, 60, 90]) * MIN))
    return busy


def test_same_input_same_output_regardless_of_input_order() -> None:
    start = utc(LONDON, date(2026, 3, 23), 0)
    busy = _busy_fortnight(7, start)
    rules = daily(time(8), time(12)) + daily(time(13), time(18))
    exceptions = [
        DateException(date(2026, 3, 25)),
        DateException(date(2026, 3, 27), time(9), time(10)),
    ]
    spec = make_spec(duration=30, step=15, before=5, after=10, notice=90)

    def call(
        rules: Sequence[WeeklyRule],
        exceptions: Sequence[DateException],
        busy: Sequence[tuple[datetime, datetime]],
    ) -> list[Slot]:
        return between(
            start,
            start + 14 * DAY,
            tz=LONDON,
            rules=rules,
            exceptions=exceptions,
            spec=spec,
            busy=busy,
            now=start + 3 * MIN,
        )

    first = call(rules, exceptions, busy)
    assert first
    assert call(rules[::-1], exceptions[::-1], busy[::-1]) == first


@pytest.mark.parametrize(
    "build",
    [
        lambda: WeeklyRule(7, time(9), time(10)),
        lambda: WeeklyRule(0, time(10), time(10)),
        lambda: WeeklyRule(0, time(9, tzinfo=UTC), time(10, tzinfo=UTC)),
        lambda: DateException(MONDAY, time(9), None),
        lambda: DateException(MONDAY, time(11), time(10)),
        lambda: make_spec(duration=0),
        lambda: SlotSpec(MIN, timedelta(0), timedelta(0), timedelta(0), timedelta(0)),
        lambda: make_spec(before=-5),
    ],
)
def test_invalid_values_are_rejected(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


def test_naive_instants_are_rejected() -> None:
    aware = utc(ZULU, MONDAY, 0)
    naive = aware.replace(tzinfo=None)
    rules = daily(time(9), time(10))
    with pytest.raises(ValueError):
        between(aware, aware + DAY, rules=rules, now=naive)
    with pytest.raises(ValueError):
        between(aware, aware + DAY, rules=rules, busy=[(naive, naive + DAY)])
    with pytest.raises(ValueError):
        between(naive, aware + DAY, rules=rules, now=aware)


def test_fortnight_with_two_hundred_busy_intervals_is_fast() -> None:
    start = utc(NEW_YORK, date(2026, 3, 2), 0)
    rules = daily(time(9), time(17))
    spec = make_spec(duration=30, step=15, before=5, after=10)
    busy = _busy_fortnight(3, start)
    best = float("inf")
    for _ in range(20):
        began = perf.perf_counter()
        slots = between(
            start, start + 14 * DAY, tz=NEW_YORK, rules=rules, spec=spec, busy=busy, now=start
        )
        best = min(best, perf.perf_counter() - began)
    assert slots
    # Generous bound so a loaded CI box does not flake; typical runs are well under 2 ms.
    assert best < 0.010


# --- properties ---------------------------------------------------------------------------

ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Europe/Dublin",
    "Pacific/Chatham",
    "UTC",
]
# (zone, local date of a 2026 clock change) pairs, so that generated windows often contain one.
HOTSPOTS = [(tz.key, day) for tz, day in TRANSITIONS] + [
    ("Europe/Dublin", date(2026, 3, 29)),
    ("Europe/Dublin", date(2026, 10, 25)),
    ("Pacific/Chatham", date(2026, 9, 27)),
    ("Pacific/Chatham", date(2026, 4, 5)),
]


@dataclass(frozen=True)
class Scenario:
    tz: ZoneInfo
    rules: list[WeeklyRule]
    exceptions: list[DateException]
    spec: SlotSpec
    busy: list[tuple[datetime, datetime]]
    now: datetime
    window_start: datetime
    window_end: datetime

    def slots(self, busy: Sequence[tuple[datetime, datetime]] | None = None) -> list[Slot]:
        return generate_slots(
            tz=self.tz,
            rules=self.rules,
            exceptions=self.exceptions,
            spec=self.spec,
            busy=self.busy if busy is None else busy,
            now=self.now,
            window_start=self.window_start,
            window_end=self.window_end,
        )


def _five(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low // 5, high // 5).map(lambda n: n * 5 * MIN)


@st.composite
def _windows(draw: st.DrawFn) -> tuple[time, time]:
    start = draw(st.integers(0, 24 * 12 - 1))
    end = draw(st.integers(start + 1, 24 * 12))
    return time(*divmod(start * 5, 60)), time.max if end == 24 * 12 else time(*divmod(end * 5, 60))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    anywhere = st.tuples(st.sampled_from(ZONES), st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    zone, base = draw(st.one_of(st.sampled_from(HOTSPOTS), anywhere))
    tz = ZoneInfo(zone)
    window_start = datetime.combine(base, time(0), tzinfo=UTC) + draw(_five(-24 * 60, 24 * 60))
    window_end = window_start + draw(st.integers(0, 96)) * HOUR + draw(_five(5, 55))
    rules = []
    for _ in range(draw(st.integers(1, 4))):
        window = draw(_windows())
        weekdays = draw(st.sets(st.integers(0, 6), min_size=1))
        rules += [WeeklyRule(weekday, *window) for weekday in sorted(weekdays)]
    if draw(st.booleans()):
        # Most zones change clocks in the small hours; make sure rules often cover them.
        rules += daily(time(0), time(draw(st.integers(1, 6)), 55))
    exceptions = []
    for _ in range(draw(st.integers(0, 4))):
        day = base + draw(st.integers(-2, 6)) * DAY
        times = draw(st.one_of(st.none(), _windows()))
        exceptions.append(DateException(day) if times is None else DateException(day, *times))
    busy = []
    for _ in range(draw(st.integers(0, 25))):
        a = window_start + draw(_five(-24 * 60, 6 * 24 * 60))
        busy.append((a, a + draw(_five(0, 6 * 60))))
    spec = SlotSpec(
        duration=draw(_five(5, 240)),
        buffer_before=draw(_five(0, 60)),
        buffer_after=draw(_five(0, 60)),
        step=draw(_five(5, 120)),
        min_notice=draw(_five(0, 24 * 60)),
    )
    now = window_start + draw(st.integers(-2 * 24 * 60, 12 * 60)) * MIN
    return Scenario(tz, rules, exceptions, spec, busy, now, window_start, window_end)


def windows_of(s: Scenario, day: date) -> list[tuple[time, time]]:
    todays = [e for e in s.exceptions if e.date == day]
    if any(e.start is None for e in todays):
        return []
    if todays:
        return [(e.start, e.end) for e in todays if e.start is not None and e.end is not None]
    return [(r.start, r.end) for r in s.rules if r.weekday == day.weekday()]


def wall_edges(day: date, window: tuple[time, time]) -> tuple[datetime, datetime]:
    """Naive local edges of a window; time.max as the end means midnight after `day`."""
    end = datetime.combine(day + DAY, time(0)) if window[1] == time.max else None
    return datetime.combine(day, window[0]), end or datetime.combine(day, window[1])


def in_window(s: Scenario, slot: Slot, window: tuple[time, time], day: date) -> bool:
    """On the window's local grid, and inside the window as real instants."""
    ws_wall, we_wall = wall_edges(day, window)
    wall = slot.start.astimezone(s.tz).replace(tzinfo=None)
    on_grid = ws_wall <= wall < we_wall and (wall - ws_wall) % s.spec.step == timedelta(0)
    ws_utc = ws_wall.replace(tzinfo=s.tz).astimezone(UTC)
    we_utc = we_wall.replace(tzinfo=s.tz).astimezone(UTC)
    return on_grid and ws_utc <= slot.start and slot.end <= we_utc


def hits_busy(s: Scenario, slot: Slot) -> bool:
    """Half-open intersection: touching is fine and an empty busy interval blocks nothing."""
    lo, hi = slot.start - s.spec.buffer_before, slot.end + s.spec.buffer_after
    return any(max(lo, a) < min(hi, b) for a, b in s.busy)


def exists_by_fold(tz: ZoneInfo, wall: datetime) -> bool:
    """A second way to spot a gap: there, fold=1 reads the later (larger) offset."""
    offsets = tz.utcoffset(wall.replace(fold=0)), tz.utcoffset(wall.replace(fold=1))
    assert offsets[0] is not None and offsets[1] is not None
    return offsets[1] <= offsets[0]


def reference(s: Scenario) -> list[datetime]:
    """Brute force with a different gap test and a linear busy scan."""
    found = set()
    earliest = max(s.window_start, s.now + s.spec.min_notice)
    day = s.window_start.astimezone(s.tz).date() - DAY
    while day <= s.window_end.astimezone(s.tz).date() + DAY:
        for window in windows_of(s, day):
            wall, wall_end = wall_edges(day, window)
            while wall < wall_end:
                start = wall.replace(tzinfo=s.tz).astimezone(UTC)
                slot = Slot(start, start + s.spec.duration)
                if (
                    exists_by_fold(s.tz, wall)
                    and in_window(s, slot, window, day)
                    and earliest <= start < s.window_end
                    and not hits_busy(s, slot)
                ):
                    found.add(start)
                wall += s.spec.step
        day += DAY
    return sorted(found)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_slots_respect_every_constraint(s: Scenario) -> None:
    slots = s.slots()
    starts = [slot.start for slot in slots]
    assert starts == sorted(set(starts))
    for slot in slots:
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end == slot.start + s.spec.duration
        assert s.window_start <= slot.start < s.window_end
        assert slot.start >= s.now + s.spec.min_notice
        assert not hits_busy(s, slot)
        day = slot.start.astimezone(s.tz).date()
        assert any(in_window(s, slot, window, day) for window in windows_of(s, day))


@PROPERTY_SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_property_matches_brute_force_and_ignores_busy_order(
    s: Scenario, rnd: random.Random
) -> None:
    slots = s.slots()
    assert [slot.start for slot in slots] == reference(s)
    shuffled = list(s.busy)
    rnd.shuffle(shuffled)
    assert s.slots(shuffled) == slots
    assert s.slots() == slots
