"""`holdfast dev`: demo data, bookings that survive a restart, one instance at a time."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from holdfast.embedded import free_port, port_in_use

from tests.support import HOLDFAST, login, process_env, register_sync, wait_for


@contextmanager
def dev(home: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    with (home / "dev.out").open("ab") as out:
        process = subprocess.Popen(
            [*HOLDFAST, "dev", "--port", str(port)], cwd=home, env=process_env(), stdout=out
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health/ready", timeout=90, process=process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)


def _book_first_slot(url: str, me: dict[str, str]) -> dict[str, str]:
    service = next(
        s for s in httpx.get(f"{url}/api/services").json() if s["name"] == "Therapy session"
    )
    slots = httpx.get(
        f"{url}/api/availability", params={"service_id": service["id"], "tz": "Europe/London"}
    ).json()["slots"]
    first = slots[0]
    body = {
        "service_id": service["id"],
        "provider_id": first["provider_id"],
        "start": first["start"],
    }
    booked = httpx.post(f"{url}/api/bookings", json=body, headers=me)
    assert booked.status_code == 201, booked.text
    return dict(booked.json())


def _wait_for_outbox(url: str, admin: dict[str, str], booking_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        params = {"booking_id": booking_id, "status": "outbox"}
        found = httpx.get(f"{url}/api/admin/messages", params=params, headers=admin).json()
        if [m for m in found if m["template"] == "confirmation"]:
            return
        time.sleep(0.2)
    raise AssertionError("no confirmation reached the outbox: is the worker running?")


def test_dev_seeds_survives_restart_and_refuses_a_second_instance(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with dev(tmp_path, port) as first:
        providers = httpx.get(f"{url}/api/providers").json()
        assert {p["timezone"] for p in providers} == {"Europe/London", "America/New_York"}
        assert len(httpx.get(f"{url}/api/services").json()) == 3
        state = json.loads((tmp_path / ".holdfast" / "dev.json").read_text())
        login(url, "admin@holdfast.example", state["admin_password"])  # asserts the 200 itself
        printed = (tmp_path / "dev.out").read_text()
        assert url in printed and f"admin@holdfast.example / {state['admin_password']}" in printed
        me = register_sync(url, "newcomer@example.com")
        booking = _book_first_slot(url, me)
        admin = login(url, "admin@holdfast.example", state["admin_password"])
        _wait_for_outbox(url, admin, booking["id"])  # the worker runs under dev too

        second = subprocess.run(
            [*HOLDFAST, "dev", "--port", str(free_port())],
            cwd=tmp_path,
            env=process_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert httpx.get(f"{url}/health/ready").status_code == 200

        first.send_signal(signal.SIGINT)
        assert first.wait(60) == 0
    ports = [state["mongo_port"], state["queue_port"], state["cache_port"], port]
    assert not any(port_in_use(p) for p in ports), "Ctrl-C left a child running"

    with dev(tmp_path, port):
        mine = httpx.get(
            f"{url}/api/bookings", headers=login(url, "newcomer@example.com", "correct horse")
        ).json()
        assert [b["id"] for b in mine] == [booking["id"]]
        assert len(httpx.get(f"{url}/api/providers").json()) == 2  # seeded once, not twice
