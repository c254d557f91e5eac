"""The waitlist with real processes: two api processes racing for one offered slot, the queue
Redis down when a slot is freed, a worker killed while it sends the offer."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from holdfast.embedded import Server, redis_url, start_redis
from holdfast.settings import Settings
from pymongo import MongoClient

from tests.fakes import SmsServer
from tests.support import (
    api_processes,
    create_admin,
    holdfast_process,
    login,
    settings_env,
    wait_until,
)

_phones = iter(range(100, 1000))


def env_for(settings: Settings, queue_port: int, sms: SmsServer) -> dict[str, str]:
    env = settings_env(settings)
    env.update(
        HOLDFAST_QUEUE_REDIS_URL=redis_url(queue_port),
        HOLDFAST_SMS_URL=sms.url,
        HOLDFAST_PROMOTER_TICK_SECONDS="0.2",
        HOLDFAST_JOB_TIMEOUT_SECONDS="3",
        HOLDFAST_JOB_LEASE_SECONDS="4",  # a killed worker's job comes back within seconds
        HOLDFAST_SEND_TIMEOUT_SECONDS="3",
    )
    return env


@dataclass
class Running:
    urls: list[str]  # the api processes
    worker: subprocess.Popen[bytes]
    env: dict[str, str]
    stack: ExitStack  # what is stopped when the test ends: add to it


@contextmanager
def running(
    settings: Settings,
    queue: Server,
    sms: SmsServer,
    apis: int = 1,
    promoter_log: Path | None = None,
) -> Iterator[Running]:
    """An admin, `apis` api processes, a promoter (logging to `promoter_log` if given) and a
    worker, sending SMS to `sms`."""
    env = env_for(settings, queue.port, sms)
    create_admin(env)
    with ExitStack() as stack:
        urls = stack.enter_context(api_processes(env, apis))
        stack.enter_context(holdfast_process(env, "promoter", log=promoter_log))
        worker = stack.enter_context(holdfast_process(env, "worker"))
        yield Running(urls, worker, env, stack)


def person(url: str, *, phone: bool = True) -> tuple[dict[str, str], str]:
    n = next(_phones)
    number, email = f"+4477009{n:05d}", f"w{n}@example.com"
    body = {"email": email, "password": "correct horse", "name": f"P{n}", "timezone": "UTC",
            "phone": number if phone else None}  # fmt: skip
    assert httpx.post(f"{url}/api/auth/register", json=body, timeout=10).status_code == 201
    return login(url, email, "correct horse"), number


def practice(url: str, waitlist: dict[str, Any] | None = None) -> tuple[str, str]:
    admin = login(url, "admin@example.com", "admin password")
    provider = httpx.post(
        f"{url}/api/admin/providers", json={"name": "Ada", "timezone": "UTC"}, headers=admin
    ).json()["id"]
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    httpx.put(f"{url}/api/admin/providers/{provider}/availability", json={"rules": rules},
              headers=admin)  # fmt: skip
    body: dict[str, Any] = {"name": "Session", "duration_minutes": 30, "slot_step_minutes": 30,
                            "provider_ids": [provider]}  # fmt: skip
    if waitlist:
        body["waitlist"] = waitlist
    created = httpx.post(f"{url}/api/admin/services", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return provider, str(created.json()["id"])


def tomorrow_noon() -> str:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, datetime.min.time(), UTC).replace(hour=12).isoformat()


def freed_slot(url: str, provider: str, service: str, start: str) -> tuple[str, dict[str, str]]:
    """Someone (with no phone: the SMS gateway hears only offers) books `start`; the booking's
    id and its owner (cancel it to free the slot)."""
    owner, _ = person(url, phone=False)
    made = httpx.post(
        f"{url}/api/bookings",
        json={"service_id": service, "provider_id": provider, "start": start},
        headers=owner,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), owner


def cancel(url: str, booking: tuple[str, dict[str, str]]) -> None:
    booking_id, owner = booking
    done = httpx.post(f"{url}/api/bookings/{booking_id}/cancel", json={}, headers=owner)
    assert done.status_code == 200, done.text


def join(url: str, who: dict[str, str], service: str) -> None:
    joined = httpx.post(f"{url}/api/waitlist", json={"service_id": service}, headers=who)
    assert joined.status_code == 201, joined.text


def offers_to(sms: SmsServer, phone: str) -> list[str]:
    return [m["Body"] for m in sms.received if m["To"] == phone and "/offers/" in m["Body"]]


def token(text: str) -> str:
    found = re.search(r"/offers/([A-Za-z0-9_.-]+)", text)
    assert found, text
    return found.group(1)


def confirmed_at(settings: Settings, start: str) -> list[dict[str, Any]]:
    with MongoClient(settings.mongo_url) as mongo:
        wanted = datetime.fromisoformat(start)
        return list(mongo.get_database().bookings.find({"start": wanted, "status": "confirmed"}))


@pytest.mark.timeout(300)
def test_two_claims_in_two_api_processes_at_once_make_one_booking(
    settings: Settings, queue: Server, sms: SmsServer
) -> None:
    with running(settings, queue, sms, apis=2) as processes:
        first, second = processes.urls
        provider, service = practice(first, {"mode": "batch", "batch_size": 2})
        (a, a_phone), (b, b_phone) = person(first), person(first)
        join(first, a, service)
        join(first, b, service)
        start = tomorrow_noon()
        booking = freed_slot(first, provider, service, start)
        cancel(first, booking)
        wait_until(lambda: bool(offers_to(sms, a_phone) and offers_to(sms, b_phone)), 60,
                   "both offers")  # fmt: skip
        urls = [f"{first}/offers/{token(offers_to(sms, a_phone)[0])}/claim",
                f"{second}/offers/{token(offers_to(sms, b_phone)[0])}/claim"]  # fmt: skip
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda u: httpx.post(u, timeout=20), urls))
        assert sorted(r.status_code for r in answers) == [201, 410]
        assert len(confirmed_at(settings, start)) == 1


@pytest.mark.timeout(300)
def test_a_claim_racing_a_public_booking_has_one_winner(
    settings: Settings, queue: Server, sms: SmsServer
) -> None:
    with running(settings, queue, sms, apis=2) as processes:
        first, second = processes.urls
        provider, service = practice(first)
        waiting, phone = person(first)
        join(first, waiting, service)
        start = tomorrow_noon()
        cancel(first, freed_slot(first, provider, service, start))
        wait_until(lambda: bool(offers_to(sms, phone)), 60, "the offer")
        walk_in, _ = person(second)
        body = {"service_id": service, "provider_id": provider, "start": start}
        with ThreadPoolExecutor(2) as pool:
            claim = pool.submit(
                httpx.post, f"{first}/offers/{token(offers_to(sms, phone)[0])}/claim",
                timeout=20,
            )  # fmt: skip
            public = pool.submit(
                httpx.post, f"{second}/api/bookings", json=body, headers=walk_in, timeout=20
            )
        assert (claim.result().status_code, public.result().status_code) == (201, 409)
        [booking] = confirmed_at(settings, start)
        assert booking["source"] == "waitlist"


def promoter_found_queue_down(log: Path) -> int:
    return log.read_text().count("promoter.queue_redis_unavailable")


@pytest.mark.timeout(300)
def test_the_chain_starts_within_ticks_of_the_queue_redis_returning(
    settings: Settings, queue: Server, tmp_path: Path, sms: SmsServer
) -> None:
    """However long the queue was down, a chain freed meanwhile starts within a few of the
    promoter's ticks (0.2 s here) of its return: the promoter's backoff while it is down must not
    outlast that (it grew to 30 s, and such chains waited that long after the queue was back)."""
    log = tmp_path / "promoter.log"
    with running(settings, queue, sms, promoter_log=log) as processes:
        [url] = processes.urls
        provider, service = practice(url)
        waiting, phone = person(url)
        join(url, waiting, service)
        booking = freed_slot(url, provider, service, tomorrow_noon())
        queue.kill()  # SIGKILL: the queue is gone while the slot is freed
        cancel(url, booking)  # still answered: MongoDB has the chain's job
        # A long outage, counted in the promoter's failed tries (a doubling backoff would be 2**7
        # ticks by the 7th).
        wait_until(lambda: promoter_found_queue_down(log) >= 7, 120, "the promoter's 7th try")
        assert offers_to(sms, phone) == []
        queue = start_redis(tmp_path / "queue-again", queue.port, persist=False)
        back = time.monotonic()
        processes.stack.callback(queue.kill)
        wait_until(lambda: bool(offers_to(sms, phone)), 120, "the offer after the queue")
        assert time.monotonic() - back < 10, "over 50 ticks from the queue's return to the offer"
        time.sleep(2)  # anything doubled would show up now
        assert len(offers_to(sms, phone)) == 1
        # The worker made the offer; the api's /metrics shows it (counted in MongoDB).
        scraped = httpx.get(f"{url}/metrics", timeout=10).text
        assert "holdfast_waitlist_offer_latency_seconds_count 1.0" in scraped.splitlines()
        assert "holdfast_waitlist_offers_made_total 1.0" in scraped.splitlines()


@pytest.mark.timeout(300)
def test_a_worker_killed_while_sending_the_offer_sends_one_offer_one_sms(
    settings: Settings, queue: Server
) -> None:
    sms = SmsServer(stall_seconds=12).start()
    try:
        with running(settings, queue, sms) as processes:
            [url] = processes.urls
            provider, service = practice(url)
            waiting, phone = person(url)
            join(url, waiting, service)
            cancel(url, freed_slot(url, provider, service, tomorrow_noon()))
            assert sms.stalled.wait(60), "the worker never reached the SMS gateway"
            processes.worker.send_signal(signal.SIGKILL)
            processes.worker.wait(10)
            processes.stack.enter_context(holdfast_process(processes.env, "worker"))
            wait_until(lambda: bool(offers_to(sms, phone)), 120, "the offer SMS")
            time.sleep(2)
            assert len(offers_to(sms, phone)) == 1
            with MongoClient(settings.mongo_url) as mongo:
                assert mongo.get_database().waitlist_offers.count_documents({}) == 1
    finally:
        sms.stop()


# A process that runs an offer's expiry job, as a worker would, at the instant the offer
# expires (its clock set there): `<job id> <instant>` on stdin, the outcome on stdout.
EXPIRER = """
import asyncio, sys
from datetime import datetime
from holdfast.context import close_context, open_context
from holdfast.jobs.registry import default_registry
from holdfast.jobs.runner import run_job
from holdfast.settings import load_settings

async def main():
    settings = load_settings()
    at = [datetime.fromisoformat("2000-01-01T00:00:00+00:00")]
    ctx = await open_context(settings, lambda: at[0])
    registry = default_registry(settings)
    print("ready", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        job_id, instant = line.split()
        at[0] = datetime.fromisoformat(instant)
        print(await run_job(ctx, job_id, registry), flush=True)
    await close_context(ctx)

asyncio.run(main())
"""


@contextmanager
def expirer(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-P", "-c", EXPIRER], env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.kill()
        process.wait(10)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


def expire_at_once(
    process: subprocess.Popen[str], job_id: str, instant: datetime, after: float
) -> str:
    assert process.stdin is not None and process.stdout is not None
    time.sleep(after)
    process.stdin.write(f"{job_id} {instant.replace(tzinfo=UTC).isoformat()}\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


@pytest.mark.timeout(300)
def test_an_expiry_racing_a_claim_in_two_processes_has_one_outcome(
    settings: Settings, queue: Server, sms: SmsServer
) -> None:
    """The offer's expiry job (another process, its clock at the expiry) and the person's claim
    (the api process) at the same instant, a few times over: MongoDB ends up with either the
    booking and the offer accepted, or the offer expired and the next person offered, never
    both, and never a booking without a claim that got it."""
    outcomes: list[tuple[int, str]] = []
    with running(settings, queue, sms) as processes, expirer(processes.env) as expiry:
        [url] = processes.urls
        # The expiry sent off as the claim is, then a little after it (a claim takes longer to
        # reach its decision: HTTP, then reads; on a loaded machine the expiry won every race
        # at 0-30 ms), then well after it: both outcomes are seen.
        for lag in (0.0, 0.05, 0.25):
            provider, service = practice(url)
            (a, a_phone), (b, _) = person(url), person(url)
            join(url, a, service)
            join(url, b, service)
            start = tomorrow_noon()
            cancel(url, freed_slot(url, provider, service, start))
            wait_until(lambda: bool(offers_to(sms, a_phone)), 60, "A's offer")  # noqa: B023
            with MongoClient(settings.mongo_url) as mongo:
                db = mongo.get_database()
                [offer] = db.waitlist_offers.find({"provider_id": ObjectId(provider)})
                [job] = db.jobs.find(
                    {"kind": "waitlist.expire", "subject": f"offer:{offer['_id']}"}
                )
            claim_url = f"{url}/offers/{token(offers_to(sms, a_phone)[0])}/claim"
            with ThreadPoolExecutor(2) as pool:
                claimed = pool.submit(httpx.post, claim_url, timeout=20)
                expired = pool.submit(expire_at_once, expiry, job["_id"], offer["expires_at"], lag)
                status, ran = claimed.result().status_code, expired.result()
            outcomes.append((status, ran))
            # A claim that commits first also stops the expiry job (skipped, then).
            assert (status, ran) in {(201, "succeeded"), (201, "skipped"), (410, "succeeded")}

            with MongoClient(settings.mongo_url) as mongo:
                db = mongo.get_database()
                booked = list(db.bookings.find({"provider_id": ObjectId(provider),
                                                "status": "confirmed"}))  # fmt: skip
                states = {o["user_id"]: o["state"] for o in db.waitlist_offers.find(
                    {"provider_id": ObjectId(provider)})}  # fmt: skip
                opening = db.waitlist_openings.find_one({"provider_id": ObjectId(provider)})
            assert opening is not None
            a_state = states.pop(offer["user_id"])
            if status == 201:  # the claim won: A's booking, and the chain is over
                assert a_state == "accepted" and opening["status"] == "filled"
                assert [x["user_id"] for x in booked] == [offer["user_id"]]
                assert booked[0]["source"] == "waitlist" and states == {}
            else:  # the expiry won: no booking, and B is offered the slot (by the expiring
                # process, whose clock is ten minutes ahead: its SMS is due then)
                assert a_state == "expired" and booked == []
                assert list(states.values()) == ["sent"] and opening["status"] == "open"
    print("claim status, expiry outcome per round:", outcomes)
