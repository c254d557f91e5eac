"""Recurrence rules against RFC 5545's own examples (section 3.8.5.3, all with
DTSTART;TZID=America/New_York) and across clock changes in three zones."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from holdfast.scheduling.recurrence import RecurrenceInvalid, parse_rule

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def expand(rule: str, start: str, tz: ZoneInfo = NY, first: int | None = None) -> list[datetime]:
    recurrence = parse_rule(rule, start_local=datetime.fromisoformat(start), tz=tz)
    return [o.local for o in itertools.islice(recurrence.iterate(), first)]


def wall(*fields: int) -> datetime:
    """A naive local wall-clock time, as a series' start is given."""
    return datetime(*fields)  # type: ignore[arg-type]  # noqa: DTZ001


def local(year: int, months: dict[int, list[int]], hour: int = 9) -> list[datetime]:
    return [wall(year, m, d, hour) for m, days in months.items() for d in days]


def test_daily_for_ten_occurrences() -> None:
    assert expand("FREQ=DAILY;COUNT=10", "1997-09-02T09:00") == local(1997, {9: list(range(2, 12))})


def test_daily_until_crosses_the_autumn_change_at_the_same_local_time() -> None:
    found = expand("RRULE:FREQ=DAILY;UNTIL=19971224T000000Z", "1997-09-02T09:00")
    assert found == local(
        1997,
        {
            9: list(range(2, 31)),
            10: list(range(1, 32)),
            11: list(range(1, 31)),
            12: list(range(1, 24)),
        },
    )
    recurrence = parse_rule(
        "FREQ=DAILY;UNTIL=19971224T000000Z", start_local=wall(1997, 9, 2, 9), tz=NY
    )
    instants = {o.local.date().isoformat(): o.start for o in recurrence.iterate()}
    assert instants["1997-10-25"] == datetime(1997, 10, 25, 13, tzinfo=UTC)  # EDT
    assert instants["1997-10-26"] == datetime(1997, 10, 26, 14, tzinfo=UTC)  # EST


def test_weekly_for_ten_occurrences() -> None:
    assert expand("FREQ=WEEKLY;COUNT=10", "1997-09-02T09:00") == local(
        1997, {9: [2, 9, 16, 23, 30], 10: [7, 14, 21, 28], 11: [4]}
    )


def test_every_other_week_forever() -> None:
    found = expand("FREQ=WEEKLY;INTERVAL=2;WKST=SU", "1997-09-02T09:00", first=13)
    assert found == local(1997, {9: [2, 16, 30], 10: [14, 28], 11: [11, 25], 12: [9, 23]}) + local(
        1998, {1: [6, 20], 2: [3, 17]}
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
        "FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH",
    ],
)
def test_weekly_on_tuesday_and_thursday_for_five_weeks(rule: str) -> None:
    assert expand(rule, "1997-09-02T09:00") == local(
        1997, {9: [2, 4, 9, 11, 16, 18, 23, 25, 30], 10: [2]}
    )


def test_every_other_week_on_several_weekdays_until_a_date() -> None:
    rule = "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR"
    assert expand(rule, "1997-09-01T09:00") == local(
        1997,
        {
            9: [1, 3, 5, 15, 17, 19, 29],
            10: [1, 3, 13, 15, 17, 27, 29, 31],
            11: [10, 12, 14, 24, 26, 28],
            12: [8, 10, 12, 22],
        },
    )


def test_monthly_on_the_first_friday() -> None:
    assert expand("FREQ=MONTHLY;COUNT=10;BYDAY=1FR", "1997-09-05T09:00") == local(
        1997, {9: [5], 10: [3], 11: [7], 12: [5]}
    ) + local(1998, {1: [2], 2: [6], 3: [6], 4: [3], 5: [1], 6: [5]})


def test_monthly_on_the_second_to_last_monday() -> None:
    assert expand("FREQ=MONTHLY;COUNT=6;BYDAY=-2MO", "1997-09-22T09:00") == local(
        1997, {9: [22], 10: [20], 11: [17], 12: [22]}
    ) + local(1998, {1: [19], 2: [16]})


def test_monthly_by_date() -> None:
    assert expand("FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15", "1997-09-02T09:00") == local(
        1997, {9: [2, 15], 10: [2, 15], 11: [2, 15], 12: [2, 15]}
    ) + local(1998, {1: [2, 15]})


def test_monthly_by_position_the_last_work_day() -> None:
    rule = "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    assert expand(rule, "1997-09-29T09:00", first=7) == local(
        1997, {9: [30], 10: [31], 11: [28], 12: [31]}
    ) + local(1998, {1: [30], 2: [27], 3: [31]})


def test_count_and_until_may_come_as_fields() -> None:
    recurrence = parse_rule(
        "FREQ=WEEKLY;BYDAY=TU",
        start_local=wall(1997, 9, 2, 9),
        tz=NY,
        until=datetime(1997, 9, 16, 13, tzinfo=UTC),
    )
    assert [o.local.day for o in recurrence.iterate()] == [2, 9, 16]
    counted = parse_rule("FREQ=WEEKLY", start_local=wall(1997, 9, 2, 9), tz=NY, count=2)
    assert len(list(counted.iterate())) == 2


def at(tz: ZoneInfo, rule: str, start: str) -> list[tuple[str, str]]:
    """(instant in UTC, local wall time as the zone shows it) of each occurrence."""
    recurrence = parse_rule(rule, start_local=datetime.fromisoformat(start), tz=tz)
    return [
        (o.start.strftime("%m-%d %H:%M"), o.start.astimezone(tz).strftime("%m-%d %H:%M"))
        for o in recurrence.iterate()
    ]


def test_london_keeps_the_local_time_across_both_changes() -> None:
    assert at(LONDON, "FREQ=WEEKLY;COUNT=4", "2027-03-16T09:00") == [
        ("03-16 09:00", "03-16 09:00"),
        ("03-23 09:00", "03-23 09:00"),
        ("03-30 08:00", "03-30 09:00"),
        ("04-06 08:00", "04-06 09:00"),
    ]
    assert at(LONDON, "FREQ=WEEKLY;COUNT=2", "2027-10-26T09:00") == [
        ("10-26 08:00", "10-26 09:00"),
        ("11-02 09:00", "11-02 09:00"),
    ]


def test_london_a_missing_time_moves_forward_and_a_repeated_one_is_the_first() -> None:
    assert at(LONDON, "FREQ=DAILY;COUNT=3", "2027-03-27T01:30") == [
        ("03-27 01:30", "03-27 01:30"),
        ("03-28 01:30", "03-28 02:30"),  # 01:30 does not exist that night: the hour after
        ("03-29 00:30", "03-29 01:30"),
    ]
    assert at(LONDON, "FREQ=DAILY;COUNT=3", "2027-10-30T01:30") == [
        ("10-30 00:30", "10-30 01:30"),
        ("10-31 00:30", "10-31 01:30"),  # 01:30 happens twice: the first one (BST)
        ("11-01 01:30", "11-01 01:30"),
    ]


def test_new_york_keeps_the_local_time_across_both_changes() -> None:
    assert at(NY, "FREQ=WEEKLY;COUNT=2", "2027-03-08T09:00") == [
        ("03-08 14:00", "03-08 09:00"),
        ("03-15 13:00", "03-15 09:00"),
    ]
    assert at(NY, "FREQ=WEEKLY;COUNT=2", "2027-11-01T09:00") == [
        ("11-01 13:00", "11-01 09:00"),
        ("11-08 14:00", "11-08 09:00"),
    ]
    assert at(NY, "FREQ=DAILY;COUNT=3", "2027-03-13T02:30") == [
        ("03-13 07:30", "03-13 02:30"),
        ("03-14 07:30", "03-14 03:30"),
        ("03-15 06:30", "03-15 02:30"),
    ]


def test_lord_howe_half_hour_changes() -> None:
    assert at(LORD_HOWE, "FREQ=WEEKLY;COUNT=2", "2027-03-28T09:00") == [
        ("03-27 22:00", "03-28 09:00"),  # +11:00
        ("04-03 22:30", "04-04 09:00"),  # +10:30
    ]
    assert at(LORD_HOWE, "FREQ=DAILY;COUNT=3", "2027-10-02T02:15") == [
        ("10-01 15:45", "10-02 02:15"),
        ("10-02 15:45", "10-03 02:45"),  # 02:00-02:30 does not exist that night
        ("10-03 15:15", "10-04 02:15"),
    ]
    assert at(LORD_HOWE, "FREQ=DAILY;COUNT=3", "2027-04-03T01:45") == [
        ("04-02 14:45", "04-03 01:45"),
        ("04-03 14:45", "04-04 01:45"),  # 01:30-02:00 happens twice: the first
        ("04-04 15:15", "04-05 01:45"),
    ]


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        ("FREQ=HOURLY", {}),
        ("FREQ=WEEKLY;BYHOUR=9", {}),
        ("FREQ=WEEKLY;COUNT=0", {}),
        ("FREQ=WEEKLY;COUNT=2", {"count": 3}),
        ("FREQ=WEEKLY;UNTIL=tomorrow", {}),
        ("FREQ=WEEKLY;INTERVAL=x", {}),
        ("FREQ=WEEKLY;BYDAY=XX", {}),
        ("BYDAY=MO", {}),
        ("FREQ=WEEKLY;FREQ=DAILY", {}),
        ("FREQ=WEEKLY;DTSTART=19970902T090000", {}),
    ],
)
def test_rules_a_series_cannot_follow_are_refused(rule: str, fields: dict[str, int]) -> None:
    with pytest.raises(RecurrenceInvalid):
        parse_rule(rule, start_local=wall(2027, 3, 2, 9), tz=LONDON, **fields)  # type: ignore[arg-type]
