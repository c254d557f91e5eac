"""Many clients in separate processes race for a handful of overlapping slots.

Two API processes share one database; four client processes fire their requests at once at
both. Afterwards a scan of MongoDB must find no two slot-holding bookings of the provider
whose buffered intervals intersect, and exactly one booking per request that got a 201.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from holdfast.settings import Settings
from pymongo import MongoClient

from tests.support import api_process, create_admin, login, register_sync, settings_env

CLIENT_PROCESSES = 4
REQUESTS_PER_PROCESS = 60
USERS = 8


def _fire(
    urls: list[str], tokens: list[str], targets: list[dict[str, Any]], seed: int, barrier: Any
) -> list[int]:
    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=REQUESTS_PER_PROCESS)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:

            async def one(i: int) -> int:
                url = urls[(seed + i) % len(urls)]
                token = tokens[(seed * 7 + i) % len(tokens)]
                body = targets[(seed * 3 + i) % len(targets)]
                response = await http.post(
                    f"{url}/api/bookings", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                return response.status_code

            barrier.wait()  # every process starts firing at the same moment
            return list(await asyncio.gather(*(one(i) for i in range(REQUESTS_PER_PROCESS))))

    return asyncio.run(run())


def _setup(url: str, day: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    admin = login(url, "admin@example.com", "admin password")
    provider = httpx.post(
        f"{url}/api/admin/providers", json={"name": "P", "timezone": "UTC"}, headers=admin
    ).json()["id"]
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    httpx.put(
        f"{url}/api/admin/providers/{provider}/availability", json={"rules": rules}, headers=admin
    )
    services = []
    for minutes, before, after in ((30, 0, 5), (45, 5, 0), (60, 0, 10)):
        body = {
            "name": f"S{minutes}",
            "duration_minutes": minutes,
            "buffer_before_minutes": before,
            "buffer_after_minutes": after,
            "slot_step_minutes": 15,
            "provider_ids": [provider],
        }
        services.append(
            httpx.post(f"{url}/api/admin/services", json=body, headers=admin).json()["id"]
        )
    # Starts every 15 minutes over two hours, for each duration: intervals overlap partially.
    targets = [
        {
            "service_id": s,
            "provider_id": provider,
            "start": (day + timedelta(minutes=15 * k)).isoformat(),
        }
        for s in services
        for k in range(8)
    ]
    tokens = [
        register_sync(url, f"racer{i}@example.com")["Authorization"][7:] for i in range(USERS)
    ]
    return targets, tokens


def _overlaps(bookings: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    ordered = sorted(bookings, key=lambda b: b["occupied_start"])
    return [
        (a["_id"], b["_id"])
        for a, b in itertools.pairwise(ordered)
        if b["occupied_start"] < a["occupied_end"]
    ]


@pytest.mark.timeout(400)
def test_racing_writers_never_double_book(settings: Settings) -> None:
    env = settings_env(settings)
    create_admin(env)
    day = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    with api_process(env) as first, api_process(env) as second:
        targets, tokens = _setup(first, day)
        spawn = multiprocessing.get_context("spawn")
        barrier = spawn.Manager().Barrier(CLIENT_PROCESSES)
        with spawn.Pool(CLIENT_PROCESSES) as pool:
            jobs = [
                pool.apply_async(_fire, ([first, second], tokens, targets, seed, barrier))
                for seed in range(CLIENT_PROCESSES)
            ]
            statuses = [status for job in jobs for status in job.get(timeout=240)]

    assert len(statuses) == CLIENT_PROCESSES * REQUESTS_PER_PROCESS  # every request answered
    assert set(statuses) <= {201, 409}, sorted(set(statuses))
    with MongoClient(settings.mongo_url) as mongo:
        holding = list(mongo.get_database().bookings.find({"status": {"$ne": "cancelled"}}))
    assert statuses.count(201) == len(holding) > 0
    assert _overlaps(holding) == []  # so each contested interval went to one booking at most
