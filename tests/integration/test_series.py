"""Recurring series through the API: every occurrence checked, conflicts reported, the rest
booked at the same local time across clock changes; cancelling parts of a series; the daily
horizon job over a year of an injected clock."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.scheduling import horizon, series
from holdfast.scheduling.schemas import SeriesIn

from tests.conftest import Clock
from tests.support import Practice, register

LONDON = ZoneInfo("Europe/London")


async def client_id(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    headers = await register(client)
    return (await client.get("/api/me", headers=headers)).json()["id"], headers


def series_body(practice: Practice, user_id: str, **more: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "service_id": practice.session,
        "provider_id": practice.london,
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "start_local": "2027-03-02T10:00",
        "timezone": "Europe/London",
        "count": 52,
        **more,
    }


async def overlaps(ctx: Context) -> list[tuple[Any, Any]]:
    """Pairs of slot-holding bookings of one provider whose buffered intervals intersect,
    read straight from MongoDB."""
    rows = await ctx.db.bookings.find({"status": {"$ne": "cancelled"}}).to_list()
    rows.sort(key=lambda b: (b["provider_id"], b["occupied_start"]))
    return [
        (a["_id"], b["_id"])
        for a, b in itertools.pairwise(rows)
        if a["provider_id"] == b["provider_id"] and b["occupied_start"] < a["occupied_end"]
    ]


async def test_a_year_of_weekly_sessions_books_all_but_the_two_that_collide(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    user, headers = await client_id(client)
    other = await register(client)
    week_3, week_40 = "2027-03-16T10:00:00Z", "2027-11-30T10:00:00Z"  # both GMT: 10:00 local
    for start in (week_3, week_40):
        body = {"service_id": practice.session, "provider_id": practice.london, "start": start}
        assert (await client.post("/api/bookings", json=body, headers=other)).status_code == 201

    preview = await client.post(
        "/api/admin/series/preview", json=series_body(practice, user), headers=practice.admin
    )
    assert preview.status_code == 200, preview.text
    assert len(preview.json()["occurrences"]) == 50
    assert [(c["start"], c["reason"]) for c in preview.json()["conflicts"]] == [
        (week_3, "booked"),
        (week_40, "booked"),
    ]
    assert await ctx.db.series.count_documents({}) == 0  # a preview writes nothing

    made = await client.post(
        "/api/admin/series", json=series_body(practice, user), headers=practice.admin
    )
    assert made.status_code == 201, made.text
    series = made.json()
    assert [(c["start"], c["reason"]) for c in series["conflicts"]] == [
        (week_3, "booked"),
        (week_40, "booked"),
    ]
    occurrences = series["occurrences"]
    assert len(occurrences) == 50
    # Every one on a Tuesday at 10:00 London time, GMT and BST alike.
    for occurrence in occurrences:
        local = datetime.fromisoformat(occurrence["start"]).astimezone(LONDON)
        assert (local.weekday(), local.time()) == (1, time(10)), occurrence
    instants = {o["start"] for o in occurrences}
    assert "2027-03-30T09:00:00Z" in instants and "2027-11-02T10:00:00Z" in instants
    assert await overlaps(ctx) == []
    # The client is told once, and reminded of each session.
    subjects = [f"booking:{o['booking_id']}" for o in occurrences]
    jobs = await ctx.db.jobs.find({"subject": {"$in": subjects}}).to_list()
    assert Counter(j["kind"] for j in jobs) == {"notify.confirmation": 1, "notify.reminder": 50}

    mine = (await client.get("/api/bookings", headers=headers, params={"limit": 500})).json()
    assert len(mine) == 50 and {b["series_id"] for b in mine} == {series["id"]}
    history = (await client.get(f"/api/bookings/{mine[0]['id']}/history", headers=headers)).json()
    assert history[0]["data"]["series_id"] == series["id"]
    shown = await client.get(f"/api/admin/series/{series['id']}", headers=practice.admin)
    assert len(shown.json()["occurrences"]) == 50
    record = await client.get(f"/api/admin/users/{user}", headers=practice.admin)
    assert [s["id"] for s in record.json()["series"]] == [series["id"]]


async def test_reject_books_nothing_and_says_why(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    user, _ = await client_id(client)
    closed = {
        "rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
        "exceptions": [{"date": "2027-03-23"}],  # week 4: the practitioner is away
    }
    put = await client.put(
        f"/api/admin/providers/{practice.london}/availability", json=closed, headers=practice.admin
    )
    assert put.status_code == 200
    body = series_body(practice, user, on_conflict="reject", count=8)
    refused = await client.post("/api/admin/series", json=body, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (409, "series_conflicts")
    assert refused.json()["conflicts"][0]["start"] == "2027-03-23T10:00:00Z"
    assert refused.json()["conflicts"][0]["reason"] == "outside_hours"
    assert await ctx.db.bookings.count_documents({}) == 0
    assert await ctx.db.series.count_documents({}) == 0

    skipped = await client.post(
        "/api/admin/series", json={**body, "on_conflict": "skip"}, headers=practice.admin
    )
    assert skipped.status_code == 201 and len(skipped.json()["occurrences"]) == 7


async def test_bad_series_are_refused_with_a_reason(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    user, _ = await client_id(client)
    for change, code in (
        ({"rrule": "FREQ=HOURLY"}, "invalid_rrule"),
        ({"rrule": "FREQ=WEEKLY;COUNT=3"}, "invalid_rrule"),  # and count 52 as a field
        ({"start_local": "2027-02-30T10:00"}, "invalid_start"),
        ({"start_local": "2020-03-03T10:00", "count": 3}, "no_occurrences"),
        ({"user_id": "0" * 24}, "user_not_found"),
    ):
        refused = await client.post(
            "/api/admin/series",
            json={**series_body(practice, user), **change},
            headers=practice.admin,
        )
        assert refused.json()["error"] == code, (change, refused.text)
        assert 400 <= refused.status_code < 500


async def test_cancel_one_the_following_or_all(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    user, headers = await client_id(client)
    body = series_body(practice, user, rrule="FREQ=WEEKLY;BYDAY=WE", count=6)
    body["start_local"] = "2027-03-03T11:00"
    made = (await client.post("/api/admin/series", json=body, headers=practice.admin)).json()
    url = f"/api/admin/series/{made['id']}/cancel"
    starts = [o["start"] for o in made["occurrences"]]
    assert len(starts) == 6

    def states(series: dict[str, Any]) -> list[str]:
        return [o["status"] for o in series["occurrences"]]

    one = await client.post(url, json={"scope": "one", "start": starts[1]}, headers=practice.admin)
    assert one.status_code == 200, one.text
    assert states(one.json()) == ["confirmed", "cancelled", *["confirmed"] * 4]
    history = (
        await client.get(
            f"/api/bookings/{one.json()['occurrences'][1]['booking_id']}/history", headers=headers
        )
    ).json()
    assert history[-1]["action"] == "cancelled"
    assert history[-1]["data"]["series_id"] == made["id"]

    following = await client.post(
        url, json={"scope": "following", "start": starts[3]}, headers=practice.admin
    )
    assert states(following.json()) == ["confirmed", "cancelled", "confirmed", *["cancelled"] * 3]
    again = await client.post(
        url, json={"scope": "following", "start": starts[3]}, headers=practice.admin
    )
    assert states(again.json()) == states(following.json())  # a repeat changes nothing

    everything = await client.post(url, json={"scope": "all"}, headers=practice.admin)
    assert states(everything.json()) == ["cancelled"] * 6
    assert everything.json()["state"] == "cancelled"
    missing = await client.post(
        url, json={"scope": "one", "start": "2027-03-04T11:00:00Z"}, headers=practice.admin
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "occurrence_not_found")
    assert await overlaps(ctx) == []


def mondays_at_nine(lo: datetime, hi: datetime) -> set[datetime]:
    """Every Monday 09:00 London time in [lo, hi), worked out day by day."""
    day, found = lo.astimezone(LONDON).date() - timedelta(days=1), set()
    while day <= hi.astimezone(LONDON).date():
        if day.weekday() == 0:
            instant = datetime.combine(day, time(9), LONDON).astimezone(UTC)
            if lo <= instant < hi:
                found.add(instant)
        day += timedelta(days=1)
    return found


async def test_the_horizon_job_keeps_exactly_twelve_weeks_booked_for_a_year(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    user, _ = await client_id(client)
    body = series_body(practice, user, rrule="FREQ=WEEKLY;BYDAY=MO", start_local="2027-03-01T09:00")
    del body["count"]  # open-ended
    created = clock.now
    made = await client.post("/api/admin/series", json=body, headers=practice.admin)
    assert made.status_code == 201, made.text
    series_id = PydanticObjectId(made.json()["id"])
    weeks = timedelta(weeks=ctx.settings.series_horizon_weeks)

    async def booked(since: datetime) -> list[datetime]:
        rows = ctx.db.bookings.find({"series_id": series_id, "status": "confirmed"})
        return [as_utc(r["start"]) async for r in rows if as_utc(r["start"]) >= since]

    assert set(await booked(clock.now)) == mondays_at_nine(clock.now, clock.now + weeks)
    for _ in range(365):
        clock.advance(days=1)
        await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
        ahead = await booked(clock.now)
        assert set(ahead) == mondays_at_nine(clock.now, clock.now + weeks), clock.now
    # Every Monday of the year was booked once, and nothing beyond the horizon.
    every = await booked(created)
    assert len(every) == len(set(every))
    assert set(every) == mondays_at_nine(created, clock.now + weeks)


async def test_a_session_that_stops_fitting_is_reported_not_dropped(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    user, _ = await client_id(client)
    body = series_body(practice, user, rrule="FREQ=WEEKLY;BYDAY=MO", start_local="2027-03-01T09:00")
    del body["count"]
    made = (await client.post("/api/admin/series", json=body, headers=practice.admin)).json()
    # The practitioner stops working Mondays.
    hours = {"rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 5)]}
    await client.put(
        f"/api/admin/providers/{practice.london}/availability", json=hours, headers=practice.admin
    )
    clock.advance(days=1)
    await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
    shown = (await client.get(f"/api/admin/series/{made['id']}", headers=practice.admin)).json()
    reported = [c for c in shown["conflicts"] if c["reason"] == "outside_hours"]
    booked_ahead = [o for o in shown["occurrences"] if o["start"] >= "2027-03-02"]
    # Every booked Monday ahead is reported (and still booked: the practice decides), and the
    # Monday that came within reach today could not be booked.
    assert {c["booking_id"] for c in reported if c["booking_id"]} == {
        o["booking_id"] for o in booked_ahead
    }
    assert all(o["status"] == "confirmed" for o in booked_ahead)
    assert any(c["booking_id"] is None for c in reported)
    again = len(shown["conflicts"])
    await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
    shown = (await client.get(f"/api/admin/series/{made['id']}", headers=practice.admin)).json()
    assert len(shown["conflicts"]) == again  # reported once


async def test_a_double_submit_makes_one_series_named_by_its_client(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    headers = await register(client, name="Barbara Liskov", email="barbara@example.com")
    user = (await client.get("/api/me", headers=headers)).json()["id"]
    body = series_body(practice, user, count=4)
    key = {**practice.admin, "Idempotency-Key": "liskov-tuesdays"}
    first = await client.post("/api/admin/series", json=body, headers=key)
    second = await client.post("/api/admin/series", json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
    assert await ctx.db.series.count_documents({}) == 1
    assert await ctx.db.bookings.count_documents({}) == 4
    # The practice sees the client by name and email wherever the series is shown.
    named = {"id": user, "name": "Barbara Liskov", "email": "barbara@example.com"}
    assert first.json()["client"] == named
    listed = (await client.get("/api/admin/series", headers=practice.admin)).json()
    assert [s["client"] for s in listed] == [named]
    shown = await client.get(f"/api/admin/series/{first.json()['id']}", headers=practice.admin)
    assert shown.json()["client"] == named
    record = (await client.get(f"/api/admin/users/{user}", headers=practice.admin)).json()
    assert [s["client"] for s in record["series"]] == [named]


async def test_a_retried_series_whose_first_try_committed_gets_that_series(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    """A retry after an answer lost (the key released, as after a 503) finds the series its
    first try made, by the request's key, instead of colliding with its own sessions."""
    user, _ = await client_id(client)
    admin = await User.find_one(User.role == "admin")
    assert admin is not None
    wanted = SeriesIn(**series_body(practice, user, count=3))
    first, booked = await series.create_series(ctx, wanted, admin, request_key="a:lost")
    again, found = await series.create_series(ctx, wanted, admin, request_key="a:lost")
    assert again.id == first.id and [b.id for b in found] == [b.id for b in booked]
    assert await ctx.db.series.count_documents({}) == 1
