from __future__ import annotations

import asyncio
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


async def _open_all_hours(client: httpx.AsyncClient, admin: dict[str, str], count: int) -> str:
    """`count` providers open around the clock every day, and a 5-minute service they all give."""
    providers = []
    for n in range(count):
        created = await client.post(
            "/api/admin/providers", json={"name": f"P{n}", "timezone": "UTC"}, headers=admin
        )
        providers.append(created.json()["id"])
        rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
        hours = await client.put(
            f"/api/admin/providers/{providers[-1]}/availability",
            json={"rules": rules},
            headers=admin,
        )
        assert hours.status_code == 200, hours.text
    body = {"name": "Quick", "duration_minutes": 5, "provider_ids": providers}
    service = await client.post("/api/admin/services", json=body, headers=admin)
    assert service.status_code == 201, service.text
    return str(service.json()["id"])


async def test_a_huge_window_comes_in_bounded_pages(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    """Six providers open 24/7 and a 5-minute service hold 107,000 slots in 62 days; a page holds
    at most `limit` (500 unless asked, 1000 at most), and the pages add up to the whole."""
    service = await _open_all_hours(client, await make_admin(client, ctx), 6)
    huge = await client.get(
        "/api/availability", params={"service_id": service, "days": 62, "tz": "UTC"}
    )
    assert huge.status_code == 200
    assert 490 <= len(huge.json()["slots"]) <= 500 and len(huge.content) < 100_000
    too_many = await client.get("/api/availability", params={"service_id": service, "limit": 1001})
    assert (too_many.status_code, too_many.json()["error"]) == (422, "invalid_limit")

    async def pages(limit: int) -> list[list[dict[str, Any]]]:
        found: list[list[dict[str, Any]]] = []
        query = {"service_id": service, "days": 1, "tz": "UTC", "limit": limit}
        while True:
            response = await client.get("/api/availability", params=query)
            assert response.status_code == 200, response.text
            found.append(response.json()["slots"])
            if (cursor := response.json()["next"]) is None:
                return found
            assert cursor > found[-1][-1]["start"]  # the next page starts after this one
            query["cursor"] = cursor

    small, large = await pages(500), await pages(1000)
    assert [len(p) for p in small] == [498, 498, 300] and [len(p) for p in large] == [996, 300]
    whole = [s for page in small for s in page]
    assert whole == [s for page in large for s in page]
    # From 06:00 (the test clock) to midnight: 18 hours of 5-minute slots with each of six.
    assert len({(s["start"], s["provider_id"]) for s in whole}) == len(whole) == 18 * 12 * 6
    assert whole == sorted(whole, key=lambda s: (s["start"], s["provider_id"]))


async def test_huge_availability_requests_do_not_stall_the_api(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    """Before paging, one such request (62 days, 107,000 slots) held the event loop for at least
    0.85 s while it generated 15 MB (9 s with four at once on a loaded machine), and every other
    request waited. A ticker on the event loop measures its longest stall while four run at once:
    now one page's worth of work at a time, generated in a thread; the bound allows for a
    heavily loaded machine (0.26 s seen at a load of 15 on two cores)."""
    service = await _open_all_hours(client, await make_admin(client, ctx), 6)
    loop = asyncio.get_running_loop()
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            stalls.append(loop.time() - last)
            last = loop.time()

    async def huge(day: int) -> httpx.Response:
        # A different `from` each: none of them is answered from the response cache.
        query = {"service_id": service, "days": 62, "from": f"2027-03-0{day}", "limit": 1000}
        return await client.get("/api/availability", params=query)

    ticking = asyncio.create_task(ticker())
    answers = await asyncio.gather(*(huge(day) for day in range(2, 6)))
    small = await client.get("/api/providers")
    done.set()
    await ticking
    assert small.status_code == 200
    assert [a.status_code for a in answers] == [200] * 4
    assert max(stalls) < 0.5, f"the event loop stalled for {max(stalls):.3f} s"
    assert all(len(a.json()["slots"]) <= 1000 for a in answers)
