"""The primary loses its majority (both secondaries die): it can no longer acknowledge a write
and, about two seconds later, steps down.

Writes caught waiting for the majority meanwhile fail inside MongoDB with a write-concern error
rather than a lost connection; they must be answered 503 like any other unavailability, never
500, succeed once the replica set is back, and the promoter must ride it out.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from holdfast.embedded import ReplicaSet, redis_url
from pymongo import MongoClient

from tests.acceptance.booking_clients import REQUEST_TIMEOUT, book_until_answered, retryable
from tests.conftest import SECRET, Services
from tests.support import (
    api_processes,
    create_admin,
    holdfast_process,
    login,
    open_all_hours,
    process_env,
    wait_until,
)

# Refusals may go on this long after a primary is back.
RECOVERY_GRACE = 15.0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_writes_caught_by_a_lost_majority_are_503_then_succeed(
    replica_set: ReplicaSet, services: Services
) -> None:
    env = process_env(
        mongo_url=replica_set.url("majority"),
        queue_redis_url=redis_url(services.queue_redis.port),
        secret_key=SECRET,
        rate_limit_requests="1000000",
        promoter_tick_seconds="0.2",
    )
    create_admin(env)
    first_day = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    with ExitStack() as stack:
        [url] = stack.enter_context(api_processes(env, 1))
        promoter = stack.enter_context(holdfast_process(env, "promoter"))
        targets, [token] = open_all_hours(url, first_day, providers=1, days=1, users=1)
        admin = login(url, "admin@example.com", "admin password")
        bodies = targets[:16:2]  # half an hour apart: none collides with another

        async def book_all() -> list[dict[str, Any]]:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
                return list(
                    await asyncio.gather(
                        *(
                            book_until_answered(http, [url], token, f"lost-{i}", body)
                            for i, body in enumerate(bodies)
                        )
                    )
                )

        primary = replica_set.wait_for_primary()
        secondaries = [i for i in range(len(replica_set.members)) if i != primary]
        for index in secondaries:
            replica_set.kill(index)
        # Sent at once: the primary does not know yet that it is alone, and waits for a
        # majority that will not come.
        with ThreadPoolExecutor(2) as pool:
            booked = pool.submit(asyncio.run, book_all())
            provider = pool.submit(
                httpx.post,
                f"{url}/api/admin/providers",
                json={"name": "Caught", "timezone": "UTC"},
                headers=admin,
                timeout=REQUEST_TIMEOUT,
            )
            wait_until(lambda: replica_set.role(primary) != "primary", 60, "the step-down")
            caught = provider.result(timeout=60)
            for index in secondaries:
                replica_set.restart(index)
            replica_set.wait_for_primary(60)
            back_at = time.time()
            results = booked.result(timeout=180)

        assert caught.status_code == 503, caught.text
        assert caught.json()["error"] == "database_unavailable"
        seen = Counter(a[2] for r in results for a in r["attempts"])
        print(f"\nlost majority, answers: {dict(seen)}")
        assert all(outcome == "201" or retryable(outcome) for outcome in seen), seen
        assert [r["final"] for r in results] == ["201"] * len(bodies), seen
        # Refusals end soon after a primary is back: no reservation that the step-down caught
        # unacknowledged keeps a retry waiting for its 30-second lease.
        late = [
            round(a[0] + a[1] - back_at, 1)
            for r in results
            for a in r["attempts"]
            if retryable(a[2]) and a[0] + a[1] > back_at + RECOVERY_GRACE
        ]
        assert late == [], (late, seen)
        with MongoClient(replica_set.url("majority")) as mongo:
            stored = Counter(str(b["_id"]) for b in mongo.get_database().bookings.find())
        assert stored == Counter(r["booking_id"] for r in results)

        # Service resumed by itself, and the promoter is still there.
        again = httpx.post(
            f"{url}/api/admin/providers",
            json={"name": "Back", "timezone": "UTC"},
            headers=admin,
            timeout=REQUEST_TIMEOUT,
        )
        assert again.status_code == 201, again.text
        assert promoter.poll() is None, "the promoter died while MongoDB had no majority"
