"""A worker SIGKILLed between Zoom making a meeting and Holdfast recording it: real api,
promoter and worker processes against the fake Zoom. The next worker finds the meeting by the
claim's marker instead of making a second one."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from holdfast.embedded import Server, redis_url
from holdfast.settings import Settings

from tests.fakes.zoom import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, FakeZoom
from tests.support import (
    api_process,
    create_admin,
    holdfast_process,
    login,
    register_sync,
    settings_env,
    wait_until,
)


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    fake = FakeZoom(stall_create_seconds=8).start()  # the worker is killed meanwhile
    yield fake
    fake.stop()


@pytest.mark.timeout(300)
def test_a_worker_killed_after_zooms_201_leaves_one_meeting(
    settings: Settings, queue: Server, zoom: FakeZoom
) -> None:
    env = settings_env(settings)
    env.update(
        HOLDFAST_QUEUE_REDIS_URL=redis_url(queue.port),
        HOLDFAST_PROMOTER_TICK_SECONDS="0.2",
        HOLDFAST_JOB_TIMEOUT_SECONDS="60",
        HOLDFAST_JOB_LEASE_SECONDS="4",  # the killed worker's job comes back within seconds
        HOLDFAST_ZOOM_ACCOUNT_ID=ACCOUNT_ID,
        HOLDFAST_ZOOM_CLIENT_ID=CLIENT_ID,
        HOLDFAST_ZOOM_CLIENT_SECRET=CLIENT_SECRET,
        HOLDFAST_ZOOM_API_URL=zoom.api_url,
        HOLDFAST_ZOOM_OAUTH_URL=zoom.url,
        HOLDFAST_ZOOM_TIMEOUT_SECONDS="10",  # the claim is held 30 s: the next try waits that
    )
    create_admin(env)
    with ExitStack() as stack:
        url = stack.enter_context(api_process(env))
        stack.enter_context(holdfast_process(env, "promoter"))
        worker = stack.enter_context(holdfast_process(env, "worker"))
        admin = login(url, "admin@example.com", "admin password")
        provider = httpx.post(
            f"{url}/api/admin/providers", json={"name": "Ada", "timezone": "UTC"}, headers=admin
        ).json()["id"]
        rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
        httpx.put(
            f"{url}/api/admin/providers/{provider}/availability",
            json={"rules": rules},
            headers=admin,
        )
        service = httpx.post(
            f"{url}/api/admin/services",
            json={"name": "Video", "duration_minutes": 30, "provider_ids": [provider],
                  "location": "video"},
            headers=admin,
        ).json()["id"]  # fmt: skip
        me = register_sync(url, "client@example.com")
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        start = datetime.combine(tomorrow, datetime.min.time(), UTC) + timedelta(hours=12)
        body = {"service_id": service, "provider_id": provider, "start": start.isoformat()}
        booked = httpx.post(f"{url}/api/bookings", json=body, headers=me, timeout=10)
        assert booked.status_code == 201, booked.text
        booking_id = booked.json()["id"]

        # Zoom has made the meeting; its 201 has not reached the worker yet.
        assert zoom.created.wait(60), "the worker never asked Zoom for a meeting"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        zoom.stall_create_seconds = 0
        stack.enter_context(holdfast_process(env, "worker"))

        def has_meeting() -> bool:
            seen = httpx.get(f"{url}/api/bookings/{booking_id}", headers=me, timeout=5)
            return seen.json().get("meeting") is not None

        wait_until(has_meeting, 90, "the booking getting its meeting link")
        assert len(zoom.meetings) == 1
        [meeting] = zoom.meetings.values()
        seen = httpx.get(f"{url}/api/bookings/{booking_id}", headers=me, timeout=5).json()
        assert seen["meeting"] == {"provider": "zoom", "join_url": meeting["join_url"]}
        assert zoom.tokens_issued == 1  # both workers used the one shared token
