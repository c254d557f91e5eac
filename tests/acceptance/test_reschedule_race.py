"""A reschedule races a new booking for the same time, from separate processes.

Two API processes share one database. In each round, one client process moves its booking
onto a time that another client process books at the same moment. Per round exactly one
wins; the loser's booking (for the reschedule: the booking as it was) is unchanged, and a scan
of MongoDB finds no two slot-holding bookings whose intervals intersect.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from holdfast.settings import Settings
from pymongo import MongoClient

from tests.support import api_processes, create_admin, login, register_sync, settings_env

ROUNDS = 12


def _fire(
    url: str, token: str, requests: list[tuple[str, dict[str, Any]]], barrier: Any
) -> list[int]:
    async def run() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(path: str, body: dict[str, Any]) -> int:
                response = await http.post(
                    f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                return response.status_code

            barrier.wait()  # both processes start at the same moment
            return list(await asyncio.gather(*(one(p, b) for p, b in requests)))

    return asyncio.run(run())


def _setup(url: str, day: datetime) -> tuple[str, str, list[str], list[datetime]]:
    admin = login(url, "admin@example.com", "admin password")
    provider = httpx.post(
        f"{url}/api/admin/providers", json={"name": "P", "timezone": "UTC"}, headers=admin
    ).json()["id"]
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    httpx.put(
        f"{url}/api/admin/providers/{provider}/availability", json={"rules": rules}, headers=admin
    )
    body = {
        "name": "S",
        "duration_minutes": 60,
        "buffer_after_minutes": 10,
        "slot_step_minutes": 15,
        "provider_ids": [provider],
    }
    service = httpx.post(f"{url}/api/admin/services", json=body, headers=admin).json()["id"]
    mover = register_sync(url, "mover@example.com")
    # Round k: the mover's booking at `day + 3k h`, to be moved an hour and a half later.
    starts = [day + timedelta(hours=3 * k) for k in range(ROUNDS)]
    ids = []
    for start in starts:
        made = httpx.post(
            f"{url}/api/bookings",
            json={"service_id": service, "provider_id": provider, "start": start.isoformat()},
            headers=mover,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return service, provider, ids, starts


@pytest.mark.timeout(300)
def test_a_reschedule_racing_a_booking_has_one_winner(settings: Settings) -> None:
    env = settings_env(settings)
    create_admin(env)
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    with api_processes(env, 2) as [first, second]:
        service, provider, ids, starts = _setup(first, day)
        mover = login(first, "mover@example.com", "correct horse")["Authorization"][7:]
        rival = register_sync(first, "rival@example.com")["Authorization"][7:]
        targets = [(s + timedelta(minutes=90)).isoformat() for s in starts]
        moves = [
            (f"/api/bookings/{i}/reschedule", {"start": t})
            for i, t in zip(ids, targets, strict=True)
        ]
        books = [
            ("/api/bookings", {"service_id": service, "provider_id": provider, "start": t})
            for t in targets
        ]
        spawn = multiprocessing.get_context("spawn")
        barrier = spawn.Manager().Barrier(2)
        with spawn.Pool(2) as pool:
            moving = pool.apply_async(_fire, (first, mover, moves, barrier))
            booking = pool.apply_async(_fire, (second, rival, books, barrier))
            moved, booked = moving.get(timeout=240), booking.get(timeout=240)

    assert set(moved) <= {200, 409} and set(booked) <= {201, 409}, (moved, booked)
    for k in range(ROUNDS):  # one winner per contested time
        assert (moved[k] == 200) != (booked[k] == 201), (k, moved[k], booked[k])
    with MongoClient(settings.mongo_url) as mongo:
        db = mongo.get_database()
        holding = list(db.bookings.find({"status": {"$ne": "cancelled"}}))
        for k, booking_id in enumerate(ids):
            mine = db.bookings.find_one({"_id": ObjectId(booking_id)})
            assert mine is not None
            expected = targets[k] if moved[k] == 200 else starts[k].isoformat()
            assert mine["start"].replace(tzinfo=UTC).isoformat() == expected, k
    assert len(holding) == ROUNDS + booked.count(201)
    ordered = sorted(holding, key=lambda b: b["occupied_start"])
    overlapping = [
        (a["_id"], b["_id"])
        for a, b in itertools.pairwise(ordered)
        if b["occupied_start"] < a["occupied_end"]
    ]
    assert overlapping == []
