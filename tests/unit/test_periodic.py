"""The pure arithmetic behind periodic jobs and claim pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from holdfast.bookings.guard import claim_ids, unit_of
from holdfast.bookings.retention import claim_range
from holdfast.jobs.periodic import next_occurrence

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_next_occurrence_is_the_next_period_start_strictly_after_now() -> None:
    assert next_occurrence(HOUR, timedelta(0), at("2027-03-01T06:20:00")) == at("2027-03-01T07:00")
    # On a boundary, that period has begun: the next one is meant.
    assert next_occurrence(HOUR, timedelta(0), at("2027-03-01T07:00:00")) == at("2027-03-01T08:00")
    daily_at_3 = timedelta(hours=3)
    assert next_occurrence(DAY, daily_at_3, at("2027-03-01T02:59:59")) == at("2027-03-01T03:00")
    assert next_occurrence(DAY, daily_at_3, at("2027-03-01T03:00:00")) == at("2027-03-02T03:00")
    # Every instant of one period names the same occurrence: many promoters write one job.
    instants = [at("2027-03-01T03:00:01") + timedelta(minutes=m) for m in range(0, 24 * 60, 7)]
    assert {next_occurrence(DAY, daily_at_3, i) for i in instants} == {at("2027-03-02T03:00")}


def test_the_claim_range_holds_every_past_claim_and_no_later_one() -> None:
    start = at("2027-03-01T09:00")
    low, high = claim_range("p", unit_of(start))
    before = claim_ids("p", start - timedelta(days=30), start)
    after = claim_ids("p", start, start + timedelta(days=3650))
    assert all(low <= c <= high for c in before)
    assert not any(low <= c <= high for c in after)
    assert not low <= "q:6000000" <= high  # another provider's
