"""Two API processes share one cache Redis: a read after a write made through the other process
never returns the pre-write response."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from holdfast.embedded import free_port, redis_url, start_redis
from holdfast.settings import Settings

from tests.support import api_process, create_admin, login, register_sync, settings_env

ROUNDS = 25


def test_read_after_write_across_processes_is_never_stale(
    settings: Settings, tmp_path: Path
) -> None:
    cache = start_redis(tmp_path / "cache", free_port(), persist=False)
    env = {**settings_env(settings), "HOLDFAST_CACHE_REDIS_URL": redis_url(cache.port)}
    create_admin(env)
    with api_process(env) as reader, api_process(env) as writer:
        admin = login(writer, "admin@example.com", "admin password")
        provider = httpx.post(
            f"{writer}/api/admin/providers", json={"name": "P", "timezone": "UTC"}, headers=admin
        ).json()["id"]
        rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
        httpx.put(
            f"{writer}/api/admin/providers/{provider}/availability",
            json={"rules": rules},
            headers=admin,
        )
        body = {
            "name": "S",
            "duration_minutes": 30,
            "slot_step_minutes": 30,
            "provider_ids": [provider],
        }
        service = httpx.post(f"{writer}/api/admin/services", json=body, headers=admin).json()["id"]
        me = register_sync(writer, "both@example.com")
        day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        query = {"service_id": service, "provider_id": provider, "from": day, "days": 1}

        def book_and_check(round_: int) -> None:
            slot = httpx.get(f"{reader}/api/availability", params=query).json()["slots"][0]
            booked = httpx.post(
                f"{writer}/api/bookings",
                json={"service_id": service, "provider_id": provider, "start": slot["start"]},
                headers=me,
            )
            assert booked.status_code == 201, booked.text
            after = httpx.get(f"{reader}/api/availability", params=query).json()
            assert slot["start"] not in [s["start"] for s in after["slots"]], f"stale in {round_}"

        hits = 0
        for round_ in range(ROUNDS):
            httpx.get(f"{reader}/api/availability", params=query)
            cached = httpx.get(f"{reader}/api/availability", params=query)
            hits += cached.headers.get("x-cache") == "hit"
            book_and_check(round_)
            mine = httpx.get(f"{reader}/api/bookings", headers=me).json()
            assert len(mine) == round_ + 1
        assert hits == ROUNDS  # the reader really was serving from the cache in between

        cache.kill()  # the cache Redis dies mid-test: both processes go on, from MongoDB
        for round_ in range(3):
            book_and_check(ROUNDS + round_)
        cache = start_redis(tmp_path / "cache-again", cache.port, persist=False)  # back, empty
        try:
            time.sleep(6)  # the breaker's cool-down
            for round_ in range(3):
                book_and_check(ROUNDS + 3 + round_)
            assert len(httpx.get(f"{reader}/api/bookings", headers=me).json()) == ROUNDS + 6
        finally:
            cache.kill()
