"""Rate limits: per client with exponential backoff, login per account and per address, 429
with Retry-After, health and webhooks exempt, and still enforced (per process) with the cache
Redis down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from holdfast.embedded import Server, free_port, redis_url, start_redis
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.support import register


@pytest.fixture
def cache_redis(tmp_path: Path) -> Iterator[Server]:
    server = start_redis(tmp_path / "cache", free_port(), persist=False)
    yield server
    server.kill()


@pytest.fixture
def settings(settings: Settings, cache_redis: Server) -> Settings:
    return settings.model_copy(
        update={
            "cache_redis_url": redis_url(cache_redis.port),
            "rate_limit_requests": 20,
            "rate_limit_window_seconds": 60,
            "login_failures_allowed": 3,
        }
    )


async def burst(client: httpx.AsyncClient, count: int, **kwargs: object) -> list[httpx.Response]:
    return [await client.get("/api/providers", **kwargs) for _ in range(count)]  # type: ignore[arg-type]


async def test_a_client_over_the_limit_waits_longer_each_time(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    clock.now = clock.now.replace(second=0)  # the start of a window
    responses = await burst(client, 21)
    assert [r.status_code for r in responses] == [200] * 20 + [429]
    refused = responses[-1]
    assert refused.json()["error"] == "rate_limited" and refused.json()["detail"]
    waits = [int(refused.headers["retry-after"])]
    for _ in range(3):
        blocked = await client.get("/api/providers")  # while refused, the wait counts down
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) <= waits[-1]
        clock.advance(seconds=waits[-1])
        again = await client.get("/api/providers")  # still over budget: a longer wait
        assert again.status_code == 429
        waits.append(int(again.headers["retry-after"]))
    assert waits == [1, 2, 4, 8]
    assert (await client.get("/health/live")).status_code == 200  # exempt
    # Webhooks are exempt too: this one reaches its handler (which refuses it, Calendly being
    # off here) while the same address is still refused everywhere else.
    assert (await client.post("/webhooks/calendly", content=b"{}")).status_code == 403
    assert (await client.get("/api/providers")).status_code == 429
    clock.advance(minutes=20)
    assert (await client.get("/api/providers")).status_code == 200  # and it passes


async def test_each_user_has_a_budget_of_their_own(client: httpx.AsyncClient, clock: Clock) -> None:
    ann, bob = await register(client), await register(client)
    clock.now = clock.now.replace(second=0)
    assert [r.status_code for r in await burst(client, 21, headers=ann)][-1] == 429
    assert (await client.get("/api/providers", headers=bob)).status_code == 200


async def test_a_browser_session_counts_as_its_user_not_its_address(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await register(client, email="browser@example.com")
    login = {"email": "browser@example.com", "password": "correct horse"}
    assert (await client.post("/api/auth/login", json=login)).status_code == 200  # sets the cookie
    clock.now = clock.now.replace(second=0)
    assert [r.status_code for r in await burst(client, 21)][-1] == 429
    client.cookies.clear()
    # Anyone else at the same address still has a budget of their own.
    assert (await client.get("/api/providers")).status_code == 200


async def test_brute_force_on_a_login_slows_down_quickly(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await register(client, email="target@example.com")
    wrong = {"email": "target@example.com", "password": "guess guess"}
    statuses = [(await client.post("/api/auth/login", json=wrong)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    locked = await client.post("/api/auth/login", json={**wrong, "password": "correct horse"})
    assert locked.status_code == 429 and locked.headers["retry-after"] == "1"  # even the right one
    waits = []
    for _ in range(3):
        clock.advance(seconds=int(locked.headers["retry-after"]))
        assert (await client.post("/api/auth/login", json=wrong)).status_code == 401
        locked = await client.post("/api/auth/login", json=wrong)
        waits.append(int(locked.headers["retry-after"]))
    assert waits == [2, 4, 8]
    clock.advance(seconds=8)
    right = await client.post("/api/auth/login", json={**wrong, "password": "correct horse"})
    assert right.status_code == 200


async def test_one_address_guessing_many_accounts_is_slowed_too(client: httpx.AsyncClient) -> None:
    for i in range(12):  # four times the per-account allowance, spread over accounts
        body = {"email": f"nobody{i}@example.com", "password": "guess guess"}
        assert (await client.post("/api/auth/login", json=body)).status_code == 401
    fresh = await client.post("/api/auth/login", json={"email": "new@example.com", "password": "x"})
    assert fresh.status_code == 429


async def test_limits_still_apply_with_the_cache_redis_down(
    client: httpx.AsyncClient, clock: Clock, cache_redis: Server
) -> None:
    cache_redis.kill()
    clock.now = clock.now.replace(second=0)
    assert [r.status_code for r in await burst(client, 21)][-1] == 429
