"""Durable jobs under faults, with real processes: api, promoter(s), worker, Redis, SMTP.

Every scheduled piece of work is in MongoDB first, so killing the queue Redis, a worker, or
running two promoters never loses or doubles an email.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from holdfast.embedded import Server, free_port, redis_url, start_redis
from holdfast.settings import Settings
from pymongo import MongoClient

from tests.fakes import SmtpSink
from tests.support import (
    api_process,
    create_admin,
    holdfast_process,
    login,
    register_sync,
    settings_env,
    wait_for,
)

PROVIDERS = 8


def job_env(settings: Settings, queue_port: int, smtp: SmtpSink) -> dict[str, str]:
    env = settings_env(settings)
    env.update(
        HOLDFAST_QUEUE_REDIS_URL=redis_url(queue_port),
        HOLDFAST_SMTP_URL=smtp.url,
        HOLDFAST_PROMOTER_TICK_SECONDS="0.2",
        HOLDFAST_JOB_TIMEOUT_SECONDS="3",
        HOLDFAST_JOB_LEASE_SECONDS="4",  # a killed worker's job comes back within seconds
        HOLDFAST_SEND_TIMEOUT_SECONDS="3",
    )
    return env


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now. Slots do not run past the end of a
    provider's day, so a session starting a few minutes from now must not be near their
    midnight, whenever the suite runs (at 23:45 UTC a provider in UTC had no 30-minute slot)."""
    ahead = 12 - datetime.now(UTC).hour  # -11 .. 12 hours
    # The Etc zones' signs are POSIX's, the opposite of ISO's: Etc/GMT-5 is UTC+5.
    return "UTC" if ahead == 0 else f"Etc/GMT{-ahead:+d}"


def practice(url: str, reminder_minutes: int) -> tuple[str, list[str]]:
    admin = login(url, "admin@example.com", "admin password")
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    providers, zone = [], midday_zone()
    for i in range(PROVIDERS):
        created = httpx.post(
            f"{url}/api/admin/providers", json={"name": f"P{i}", "timezone": zone}, headers=admin
        )
        pid = created.json()["id"]
        httpx.put(
            f"{url}/api/admin/providers/{pid}/availability", json={"rules": rules}, headers=admin
        )
        providers.append(pid)
    service = {
        "name": "Quick",
        "duration_minutes": 30,
        "slot_step_minutes": 5,
        "reminder_minutes_before": reminder_minutes,
        "provider_ids": providers,
    }
    created = httpx.post(f"{url}/api/admin/services", json=service, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()["id"], providers


def soon_slot() -> tuple[datetime, int]:
    """A slot whose reminder (whole minutes before it) falls due 15-75 s from now."""
    now = datetime.now(UTC)
    # At least 90 s ahead, on a five-minute mark: rounding down to the minute here could leave
    # less than 75 s, and then no whole minute for the reminder to come before the start.
    start = (now + timedelta(seconds=90)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start += timedelta(minutes=-start.minute % 5)
    minutes = int((start - now - timedelta(seconds=15)).total_seconds() // 60)
    return start, minutes


def later_slot() -> datetime:
    """Tomorrow at noon UTC: far from the reminders' lead times, and a few bookings after it
    stay within the day whenever the test runs (slots do not run past a day's end)."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, datetime.min.time(), UTC) + timedelta(hours=12)


def book(
    url: str, me: dict[str, str], service: str, provider: str, start: datetime
) -> dict[str, Any]:
    body = {"service_id": service, "provider_id": provider, "start": start.isoformat()}
    response = httpx.post(f"{url}/api/bookings", json=body, headers=me, timeout=10)
    assert response.status_code == 201, response.text
    return dict(response.json())


def per_booking(smtp: SmtpSink) -> Counter[tuple[str, str]]:
    """(template, recipient) counts from what the SMTP server accepted."""
    return Counter((str(m["Subject"]).strip().split(":")[0], str(m["To"])) for m in smtp.messages)


@pytest.mark.timeout(400)
def test_queue_redis_killed_and_restarted_empty_loses_nothing(
    settings: Settings, smtp: SmtpSink, queue: Server, tmp_path: Path
) -> None:
    env = job_env(settings, queue.port, smtp)
    create_admin(env)
    with ExitStack() as stack:
        url = stack.enter_context(api_process(env))
        stack.enter_context(holdfast_process(env, "promoter"))
        stack.enter_context(holdfast_process(env, "worker"))
        # Registering first: on a loaded machine it can outlast the reminders' lead time.
        people = [register_sync(url, f"p{i}@example.com") for i in range(PROVIDERS)]
        start, reminder = soon_slot()
        service, providers = practice(url, reminder)

        for i in range(3):
            book(url, people[i], service, providers[i], start)
        queue.kill()  # SIGKILL: everything queued is gone
        for i in range(3, 6):
            book(url, people[i], service, providers[i], start)  # bookings go on meanwhile
        time.sleep(1.5)
        queue = start_redis(tmp_path / "queue-again", queue.port, persist=False)  # empty
        stack.callback(queue.kill)
        for i in range(6, PROVIDERS):
            book(url, people[i], service, providers[i], start)

        smtp.wait_for(2 * PROVIDERS, timeout=240)
        time.sleep(2)  # anything doubled would show up now
    counts = per_booking(smtp)
    expected = {
        (kind, f"p{i}@example.com") for kind in ("Confirmed", "Reminder") for i in range(PROVIDERS)
    }
    assert set(counts) == expected
    assert set(counts.values()) == {1}


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_send_sends_once(
    settings: Settings, smtp: SmtpSink, queue: Server
) -> None:
    smtp.stall_seconds = 30  # the first conversation hangs before DATA
    env = job_env(settings, queue.port, smtp)
    create_admin(env)
    with ExitStack() as stack:
        url = stack.enter_context(api_process(env))
        stack.enter_context(holdfast_process(env, "promoter"))
        first = stack.enter_context(holdfast_process(env, "worker"))
        service, providers = practice(url, 0)
        start = later_slot()
        book(url, register_sync(url, "kill@example.com"), service, providers[0], start)
        assert smtp.stalled.wait(30), "the worker never reached the SMTP server"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        stack.enter_context(holdfast_process(env, "worker"))
        smtp.wait_for(1, timeout=180)
        time.sleep(2)
    assert [m["To"] for m in smtp.messages] == ["kill@example.com"]
    with MongoClient(settings.mongo_url) as mongo:
        [job] = list(mongo.get_database().jobs.find({"kind": "notify.confirmation"}))
        [message] = list(mongo.get_database().messages.find())
    # The second attempt found the email still claimed by the killed worker's send and waited
    # for that claim to lapse before sending it: one or more attempts after the first.
    assert job["state"] == "succeeded" and job["attempts"] >= 2
    assert message["status"] == "sent"


@pytest.mark.timeout(300)
def test_two_promoters_never_run_a_job_twice(
    settings: Settings, smtp: SmtpSink, queue: Server
) -> None:
    env = job_env(settings, queue.port, smtp)
    # The API cannot reach the queue at all: bookings still succeed, and only the two promoters
    # hand the jobs over.
    api_env = {**env, "HOLDFAST_QUEUE_REDIS_URL": redis_url(free_port())}
    create_admin(env)
    with ExitStack() as stack:
        url = stack.enter_context(api_process(api_env))
        service, providers = practice(url, 0)
        start = later_slot()
        count = 0
        for i, provider in enumerate(providers):
            me = register_sync(url, f"two{i}@example.com")
            for k in range(3):
                book(url, me, service, provider, start + timedelta(minutes=30 * k))
                count += 1
        stack.enter_context(holdfast_process(env, "promoter"))
        stack.enter_context(holdfast_process(env, "promoter"))
        stack.enter_context(holdfast_process(env, "worker"))
        smtp.wait_for(count, timeout=180)
        time.sleep(2)
    assert len(smtp.messages) == count
    with MongoClient(settings.mongo_url) as mongo:
        jobs = list(mongo.get_database().jobs.find({"kind": "notify.confirmation"}))
    assert len(jobs) == count
    assert {(j["state"], j["attempts"]) for j in jobs} == {("succeeded", 1)}


@pytest.mark.timeout(300)
def test_a_send_longer_than_the_job_lease_runs_once_beside_a_second_worker(
    settings: Settings, smtp: SmtpSink, queue: Server
) -> None:
    smtp.stall_seconds = 8  # the one send outlasts four leases; the worker keeps renewing
    env = job_env(settings, queue.port, smtp)
    env.update(
        HOLDFAST_JOB_LEASE_SECONDS="2",
        HOLDFAST_SEND_TIMEOUT_SECONDS="20",
        HOLDFAST_JOB_TIMEOUT_SECONDS="30",
    )
    create_admin(env)
    with ExitStack() as stack:
        url = stack.enter_context(api_process(env))
        stack.enter_context(holdfast_process(env, "promoter"))  # repairs lapsed leases every second
        stack.enter_context(holdfast_process(env, "worker"))
        stack.enter_context(holdfast_process(env, "worker"))
        service, providers = practice(url, 0)
        book(url, register_sync(url, "slow@example.com"), service, providers[0], later_slot())
        assert smtp.stalled.wait(60), "no worker reached the SMTP server"
        smtp.wait_for(1, timeout=120)
        time.sleep(3)
    assert [m["To"] for m in smtp.messages] == ["slow@example.com"]
    with MongoClient(settings.mongo_url) as mongo:
        [job] = list(mongo.get_database().jobs.find({"kind": "notify.confirmation"}))
    assert (job["state"], job["attempts"]) == ("succeeded", 1)  # never handed to the other


def nice_of(pid: int) -> int:
    """The process's nice value (field 19 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def settles_at(pid: int, expected: int, seconds: float = 20.0) -> int:
    """The process's nice value once it is `expected`, or whatever it is after `seconds`."""
    deadline = time.monotonic() + seconds
    while (seen := nice_of(pid)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def test_the_promoter_and_the_worker_give_way_to_the_api(
    settings: Settings, smtp: SmtpSink, queue: Server
) -> None:
    """Both lower their CPU priority by HOLDFAST_BACKGROUND_NICE (10 unless set), so that on a
    shared machine a client's request goes first; the API keeps the priority it was given."""
    env = job_env(settings, queue.port, smtp)
    ours = nice_of(os.getpid())
    port = free_port()
    with ExitStack() as stack:
        api = stack.enter_context(holdfast_process(env, "api", "--port", str(port)))
        wait_for(f"http://127.0.0.1:{port}/health/live", process=api)
        promoter = stack.enter_context(holdfast_process(env, "promoter"))
        worker = stack.enter_context(
            holdfast_process({**env, "HOLDFAST_BACKGROUND_NICE": "4"}, "worker")
        )
        assert settles_at(promoter.pid, min(ours + 10, 19)) == min(ours + 10, 19)
        assert settles_at(worker.pid, min(ours + 4, 19)) == min(ours + 4, 19)
        assert nice_of(api.pid) == ours
