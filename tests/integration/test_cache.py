"""The response cache: hits, scoped invalidation by events, per-user safety, and a cache
Redis that is down, slow or flushed (responses stay right, served from MongoDB)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from holdfast.embedded import Server, free_port, redis_url, start_redis
from holdfast.settings import Settings

from tests.support import Practice, register


@pytest.fixture
def cache_redis(tmp_path: Path) -> Iterator[Server]:
    server = start_redis(tmp_path / "cache", free_port(), persist=False)
    yield server
    if server.process.poll() is None:
        os.kill(server.pid, signal.SIGCONT)
        server.kill()


@pytest.fixture
def settings(settings: Settings, cache_redis: Server) -> Settings:
    return settings.model_copy(update={"cache_redis_url": redis_url(cache_redis.port)})


async def get(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    return response


async def test_catalog_is_served_from_the_cache_until_it_changes(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    first = await get(client, "/api/services")
    again = await get(client, "/api/services")
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert again.json() == first.json()
    body = {"name": "New", "duration_minutes": 30, "provider_ids": [practice.london]}
    assert (
        await client.post("/api/admin/services", json=body, headers=practice.admin)
    ).status_code == 201
    after = await get(client, "/api/services")
    assert after.headers["x-cache"] == "miss" and len(after.json()) == len(first.json()) + 1


async def test_a_booking_invalidates_its_providers_availability_only(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    def query(provider: str | None) -> dict[str, Any]:
        params = {"service_id": practice.session, "days": 3}
        return params | ({"provider_id": provider} if provider else {})

    for provider in (practice.london, practice.new_york, None):
        await get(client, "/api/availability", params=query(provider))
    london_before = (await get(client, "/api/availability", params=query(practice.london))).json()
    first = london_before["slots"][0]
    me = await register(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": first["start"]}
    assert (await client.post("/api/bookings", json=body, headers=me)).status_code == 201

    london = await get(client, "/api/availability", params=query(practice.london))
    assert london.headers["x-cache"] == "miss"
    assert first["start"] not in [s["start"] for s in london.json()["slots"]]
    everyone = await get(client, "/api/availability", params=query(None))
    assert everyone.headers["x-cache"] == "miss"  # it covers London too
    new_york = await get(client, "/api/availability", params=query(practice.new_york))
    assert new_york.headers["x-cache"] == "hit"  # untouched


async def test_per_user_responses_never_reach_another_user(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    ann, bob = await register(client), await register(client)
    body = {
        "service_id": practice.session,
        "provider_id": practice.london,
        "start": "2027-03-01T11:00:00Z",
    }
    mine = (await client.post("/api/bookings", json=body, headers=ann)).json()
    for _ in range(2):
        assert [b["id"] for b in (await get(client, "/api/bookings", headers=ann)).json()] == [
            mine["id"]
        ]
        assert (await get(client, "/api/bookings", headers=bob)).json() == []
    assert (await client.get("/api/bookings", headers=bob)).headers["x-cache"] == "hit"
    assert (await client.get("/api/bookings")).status_code == 401  # no token: never a cached list
    admin_view = await get(client, "/api/bookings", headers=practice.admin)
    assert [b["id"] for b in admin_view.json()] == [mine["id"]]
    await client.post(f"/api/bookings/{mine['id']}/cancel", json={}, headers=ann)
    assert (await get(client, "/api/bookings", headers=practice.admin)).json()[0][
        "status"
    ] == "cancelled"


async def test_only_successful_reads_with_known_parameters_are_cached(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    for _ in range(2):
        bad = await client.get(
            "/api/availability", params={"service_id": practice.session, "tz": "No/Where"}
        )
        # An error is never stored, so the second identical request is not a hit either.
        assert bad.status_code == 422 and bad.headers.get("x-cache") != "hit"
    odd = await client.get("/api/availability", params={"service_id": practice.session, "utm": "x"})
    assert odd.status_code == 200 and "x-cache" not in odd.headers  # unknown parameter: bypass


async def until_cached(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """Read `path` until the cache takes part again (its cool-down over); every answer on the
    way must already be the current one, which the caller checks on the last."""
    deadline = time.monotonic() + 15
    while "x-cache" not in (response := await get(client, path)).headers:
        assert "During" in [s["name"] for s in response.json()]
        assert time.monotonic() < deadline, "the cache was never used again"
        await asyncio.sleep(0.2)
    return response


async def test_a_dead_slow_or_flushed_cache_changes_nothing_but_speed(
    client: httpx.AsyncClient, practice: Practice, cache_redis: Server, tmp_path: Path
) -> None:
    await get(client, "/api/services")
    assert (await get(client, "/api/services")).headers["x-cache"] == "hit"

    redis.Redis(port=cache_redis.port).flushall()  # flushed: a miss, then correct again
    assert (await get(client, "/api/services")).headers["x-cache"] == "miss"

    os.kill(cache_redis.pid, signal.SIGSTOP)  # slow: it accepts nothing and answers nothing
    started = time.monotonic()
    slow = await get(client, "/api/services")
    assert "x-cache" not in slow.headers and time.monotonic() - started < 0.5
    body = {"name": "During", "duration_minutes": 30, "provider_ids": [practice.london]}
    await client.post("/api/admin/services", json=body, headers=practice.admin)
    assert "During" in [s["name"] for s in (await get(client, "/api/services")).json()]
    os.kill(cache_redis.pid, signal.SIGCONT)
    # The invalidation made while Redis stalled was not lost: once the cache is used again,
    # after its cool-down, the old list is still never served.
    listed = await until_cached(client, "/api/services")
    assert listed.headers["x-cache"] == "miss" and "During" in [s["name"] for s in listed.json()]

    cache_redis.kill()  # down
    down = await get(client, "/api/services")
    assert "x-cache" not in down.headers and "During" in [s["name"] for s in down.json()]
    metrics = (await client.get("/metrics")).text
    assert 'holdfast_cache_total{outcome="bypass",rule="services"}' in metrics

    restarted = start_redis(tmp_path / "cache-again", cache_redis.port, persist=False)
    try:
        await until_cached(client, "/api/services")
        assert (await get(client, "/api/services")).headers["x-cache"] == "hit"  # recovered
    finally:
        restarted.kill()


async def test_an_evicted_generation_counter_never_revives_an_old_entry(
    client: httpx.AsyncClient, practice: Practice, cache_redis: Server
) -> None:
    """Under `allkeys-lru` Redis may evict a rule's counter and keep the entries tagged with it.
    A counter that came back at a fixed value after each eviction would make the entry stored
    after the first write current again after the second."""
    cache = redis.Redis(port=cache_redis.port)
    await get(client, "/api/services")
    for name in ("First", "Second"):
        assert cache.delete("hf:gen:services:all") == 1  # evicted; the entries are kept
        body = {"name": name, "duration_minutes": 30, "provider_ids": [practice.london]}
        created = await client.post("/api/admin/services", json=body, headers=practice.admin)
        assert created.status_code == 201, created.text
        listed = await get(client, "/api/services")
        assert listed.headers["x-cache"] == "miss"
        assert name in [s["name"] for s in listed.json()]
