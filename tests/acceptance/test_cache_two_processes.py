"""Two API processes share one cache Redis: a read after a write made through the other process
never returns the pre-write response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from holdfast.settings import Settings

from tests.support import api_process, create_admin, login, register_sync, settings_env

ROUNDS = 25


def test_read_after_write_across_processes_is_never_stale(settings: Settings) -> None:
    env = settings_env(settings)
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

        hits = 0
        for round_ in range(ROUNDS):
            before = httpx.get(f"{reader}/api/availability", params=query)
            cached = httpx.get(f"{reader}/api/availability", params=query)
            hits += cached.headers.get("x-cache") == "hit"
            slot = before.json()["slots"][0]
            booked = httpx.post(
                f"{writer}/api/bookings",
                json={"service_id": service, "provider_id": provider, "start": slot["start"]},
                headers=me,
            )
            assert booked.status_code == 201, booked.text
            after = httpx.get(f"{reader}/api/availability", params=query).json()
            assert slot["start"] not in [s["start"] for s in after["slots"]], (
                f"stale in round {round_}"
            )
            mine = httpx.get(f"{reader}/api/bookings", headers=me).json()
            assert len(mine) == round_ + 1
        assert hits == ROUNDS  # the reader really was serving from the cache in between
