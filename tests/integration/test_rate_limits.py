"""Rate limits: per client with exponential backoff, failed logins per (account, address) and per
address (never locking the owner out), registrations per address, bounded argon2 work, 429
with Retry-After, health and webhooks exempt, and still enforced (per process) with the cache
Redis down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from holdfast.embedded import Server, free_port, redis_url, start_redis
from holdfast.settings import Settings
from litestar import Litestar

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
            "registrations_per_hour": 5,
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


def from_address(app: Litestar, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (as the server sees its peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_failed_logins_from_elsewhere_never_lock_the_owner_out(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await register(client, email="owner@example.com")
    wrong = {"email": "owner@example.com", "password": "guess guess"}
    # Ten addresses guess three times each: thirty failures on one account.
    for i in range(10):
        async with from_address(app, f"203.0.113.{i + 1}") as attacker:
            for _ in range(3):
                await attacker.post("/api/auth/login", json=wrong)
    async with from_address(app, "192.0.2.7") as owner:  # the owner, from a new address
        right = await owner.post("/api/auth/login", json={**wrong, "password": "correct horse"})
        assert right.status_code == 200, right.text
    # One more attacking address gets one guess before it waits: the account is under attack.
    async with from_address(app, "203.0.113.99") as late:
        assert (await late.post("/api/auth/login", json=wrong)).status_code == 401
        held = await late.post("/api/auth/login", json=wrong)
        assert held.status_code == 429 and int(held.headers["retry-after"]) >= 1


async def test_registrations_are_limited_per_address(app: Litestar) -> None:
    def body(i: int) -> dict[str, str]:
        return {"email": f"new{i}@example.com", "password": "correct horse", "name": "N"}

    async with from_address(app, "198.51.100.1") as one:
        for i in range(5):
            assert (await one.post("/api/auth/register", json=body(i))).status_code == 201
        refused = await one.post("/api/auth/register", json=body(5))
        assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
    async with from_address(app, "198.51.100.2") as other:
        assert (await other.post("/api/auth/register", json=body(5))).status_code == 201


async def test_a_burst_of_registrations_does_not_hold_up_a_login(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    """Password hashing is bounded: a burst of new accounts (from many addresses) queues
    behind itself, and a login meanwhile is answered before most of them."""
    await register(client, email="regular@example.com")
    finished: list[str] = []

    async def new_account(i: int) -> None:
        async with from_address(app, f"198.51.100.{i + 10}") as newcomer:
            body = {"email": f"burst{i}@example.com", "password": "correct horse", "name": "B"}
            response = await newcomer.post("/api/auth/register", json=body)
            assert response.status_code == 201, response.text
            finished.append("register")

    async def log_in() -> None:
        await asyncio.sleep(0.3)  # the burst is waiting for argon2 by now
        body = {"email": "regular@example.com", "password": "correct horse"}
        async with from_address(app, "192.0.2.50") as regular:
            assert (await regular.post("/api/auth/login", json=body)).status_code == 200
        finished.append("login")

    await asyncio.gather(*(new_account(i) for i in range(20)), log_in())
    assert finished.index("login") < 10, finished
