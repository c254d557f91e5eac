"""MongoDB goes away: data endpoints answer 503 within a second, and service resumes by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod

from tests.conftest import SECRET, Services
from tests.support import api_process, create_admin, login, process_env

# PyMongo gives up finding a server after serverSelectionTimeoutMS (HOLDFAST_MONGO_TIMEOUT_MS,
# 400 ms) but looks again only every half second, so a refusal takes 0.4 to 0.9 s, plus
# whatever a loaded machine adds. What is tested is "fast, not hanging", not a benchmark.
REFUSED_WITHIN = 2.0


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[Server]:
    server = start_mongod(tmp_path / "mongo", free_port())
    yield server
    server.stop()


def timed(**request: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.request(**request, timeout=10)  # type: ignore[arg-type]
    return response, time.monotonic() - started


def test_database_down_is_503_fast_and_recovers(
    own_mongo: Server, services: Services, tmp_path: Path
) -> None:
    env = process_env(
        mongo_url=mongo_url(own_mongo.port, "outage"),
        queue_redis_url=redis_url(services.queue_redis.port),
        secret_key=SECRET,
    )
    create_admin(env)
    with api_process(env) as url:
        admin = login(url, "admin@example.com", "admin password")
        assert httpx.get(f"{url}/api/services").status_code == 200

        own_mongo.stop()
        checks = [
            {"method": "GET", "url": f"{url}/api/services"},
            {"method": "GET", "url": f"{url}/api/bookings", "headers": admin},
            {
                "method": "POST",
                "url": f"{url}/api/auth/login",
                "json": {"email": "a@b.co", "password": "whatever"},
            },
            {
                "method": "POST",
                "url": f"{url}/api/admin/providers",
                "json": {"name": "X", "timezone": "UTC"},
                "headers": admin,
            },
        ]
        for check in checks:
            response, elapsed = timed(**check)
            assert response.status_code == 503, (check["url"], response.text)
            assert response.json()["error"] == "database_unavailable"
            assert elapsed < REFUSED_WITHIN, (check["url"], elapsed)
        assert httpx.get(f"{url}/health/live").status_code == 200
        ready = httpx.get(f"{url}/health/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["mongo"] == "unavailable"

        restarted = start_mongod(tmp_path / "mongo", own_mongo.port)
        try:
            deadline = time.monotonic() + 30
            while httpx.get(f"{url}/api/services", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "the API did not recover after MongoDB returned"
                time.sleep(0.2)
            assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
            created = httpx.post(
                f"{url}/api/admin/providers",
                json={"name": "Back", "timezone": "UTC"},
                headers=admin,
            )
            assert created.status_code == 201
        finally:
            restarted.stop()
