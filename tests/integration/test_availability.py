from __future__ import annotations

from typing import Any

import httpx
from holdfast.context import Context

from tests.conftest import Clock
from tests.support import Practice, make_admin, register


async def slots(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/availability", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["slots"]
    return found


async def test_slots_are_utc_instants_with_local_times_in_the_asked_zone(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    response = await client.get(
        "/api/availability",
        params={
            "service_id": practice.session,
            "provider_id": practice.london,
            "tz": "Asia/Kathmandu",
            "days": 1,
        },
    )
    body = response.json()
    assert body["timezone"] == "Asia/Kathmandu"
    # Monday 1 March 2027 in Kathmandu (+05:45) starts at 18:15Z on the Sunday;
    # London works 09-17 GMT.
    assert [s["start"] for s in body["slots"]] == [
        f"2027-03-01T{h:02d}:00:00Z" for h in range(9, 17)
    ]
    assert body["slots"][0]["end"] == "2027-03-01T10:00:00Z"
    assert body["slots"][0]["start_local"] == "2027-03-01T14:45:00+05:45"


async def test_fourteen_days_by_default_and_deterministic(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    first = await slots(client, service_id=practice.session, tz="Europe/London")
    # Computed again, not read from the response cache: `days` makes it another cache key.
    again = await slots(client, service_id=practice.session, tz="Europe/London", days=14)
    assert first == again
    days = {s["start"][:10] for s in first}
    assert min(days) == "2027-03-01" and max(days) == "2027-03-12"  # ten weekdays in 14 days
    assert first == sorted(first, key=lambda s: (s["start"], s["provider_id"]))
    one_week = await slots(client, service_id=practice.session, tz="Europe/London", days=7)
    assert {s["start"][:10] for s in one_week} < days


async def test_a_rule_means_the_same_local_time_across_a_clock_change(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    # New York springs forward on Sunday 14 March 2027: 09:00 local is 14:00Z before, 13:00Z after.
    found = await slots(
        client,
        service_id=practice.session,
        provider_id=practice.new_york,
        tz="America/New_York",
        **{"from": "2027-03-12", "days": 4},
    )
    by_day = {s["start_local"][:10]: s for s in reversed(found)}
    assert by_day["2027-03-12"]["start"] == "2027-03-12T14:00:00Z"
    assert by_day["2027-03-15"]["start"] == "2027-03-15T13:00:00Z"
    assert by_day["2027-03-15"]["start_local"] == "2027-03-15T09:00:00-04:00"


async def test_booked_time_and_its_buffers_are_not_offered(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    me = await register(client)
    booked = await client.post(
        "/api/bookings",
        json={
            "service_id": practice.session,
            "provider_id": practice.london,
            "start": "2027-03-01T11:00:00Z",
        },
        headers=me,
    )
    assert booked.status_code == 201
    found = await slots(client, service_id=practice.short, tz="UTC", days=1)
    starts = [s["start"][11:16] for s in found]
    # 11:00-12:00 plus 15 minutes after it are held; the short service has no buffers of its own.
    assert (
        "10:30" in starts
        and "11:00" not in starts
        and "11:30" not in starts
        and "12:00" not in starts
    )
    assert "12:30" in starts
    session = [
        s["start"][11:16]
        for s in await slots(
            client, service_id=practice.session, provider_id=practice.london, tz="UTC", days=1
        )
    ]
    # A 10:00 session would end at 11:00 but its own 15-minute buffer runs into the booking.
    assert "10:00" not in session and "12:00" not in session and "13:00" in session


async def test_minimum_notice_and_a_moving_clock(
    client: httpx.AsyncClient, practice: Practice, clock: Clock, ctx: Context
) -> None:
    admin = await make_admin(client, ctx)
    body = {
        "name": "Notice",
        "duration_minutes": 60,
        "min_notice_minutes": 240,
        "provider_ids": [practice.london],
    }
    service = (await client.post("/api/admin/services", json=body, headers=admin)).json()["id"]
    clock.advance(hours=4)  # 10:00Z on Monday
    found = await slots(client, service_id=service, tz="UTC", days=1)
    assert found[0]["start"] == "2027-03-01T14:00:00Z"


async def test_bad_availability_queries_get_a_reason(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    cases = [
        ({"service_id": practice.session, "tz": "Not/AZone"}, 422, "invalid_timezone"),
        ({"service_id": practice.session, "from": "2027-02-30"}, 422, "invalid_date"),
        ({"service_id": practice.session, "from": "2030-01-01"}, 422, "beyond_horizon"),
        ({"service_id": practice.session, "days": 0}, 422, "invalid_days"),
        ({"service_id": practice.session, "days": "many"}, 422, "invalid"),
        ({"service_id": "nope"}, 404, "service_not_found"),
        ({"service_id": practice.short, "provider_id": "0" * 24}, 404, "provider_not_found"),
        (
            {"service_id": practice.short, "provider_id": practice.new_york},
            422,
            "provider_not_offering",
        ),
        ({}, 422, "invalid"),
    ]
    for params, status, code in cases:
        response = await client.get("/api/availability", params=params)
        assert (response.status_code, response.json()["error"]) == (status, code), params
