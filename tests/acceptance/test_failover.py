"""The primary of a three-member MongoDB replica set dies while clients book.

Two API processes, the promoter and a worker run against the set, as in production. Client
processes book with an `Idempotency-Key` and send the same request again on a 503, a dropped
connection or `409 request_in_progress`, against either API process. The primary is SIGKILLed
mid-load and started again later (it rejoins as a secondary), then the next primary is asked
to step down, as for maintenance; nothing else is restarted or told anything.

Afterwards: every 201 is exactly one booking in MongoDB and every booking was answered 201
(an acknowledged booking is never lost, a retry never makes a second one), no two bookings
overlap, each booking holds exactly its claim units and has one confirmation job, which ran,
and bookings succeeded again after each election and after the old primary rejoined.

The set elects in about two seconds (`FAST_ELECTIONS`); the figures are printed (`-s`) and
quoted in the README's failover section.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from holdfast.bookings.guard import claim_ids
from holdfast.context import close_context, open_context
from holdfast.embedded import ReplicaSet, Server, redis_url
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind, Registry
from holdfast.jobs.runner import run_job
from holdfast.settings import Settings
from pymongo import MongoClient

from tests.acceptance.booking_clients import (
    GIVE_UP_AFTER,
    REQUEST_TIMEOUT,
    RETRYABLE,
    retryable,
    run_client,
)
from tests.conftest import SECRET, Services
from tests.support import (
    HOLDFAST,
    api_processes,
    create_admin,
    holdfast_process,
    open_all_hours,
    process_env,
    wait_until,
)

CLIENT_PROCESSES = 3
PROVIDERS = 3
DAYS = 5
# Refusals may go on this long after the test sees a new primary (it elects in about 2 s).
RECOVERY_GRACE = 15.0
# The worker's lease on a job is its timeout (60 s here, the default) plus 5 s.
CONFIRMATION_GRACE = timedelta(seconds=40)
# Successful bookings to see before the kill and after each change of the replica set.
STEP = 20


def _window(attempts: list[list[Any]], start: float, end: float) -> dict[str, Any]:
    """Refusals and the first fresh booking among the answers given in [start, end), in
    seconds after `start`."""
    inside = [(a[0] + a[1] - start, a) for a in attempts if start <= a[0] + a[1] < end]
    refused = [at for at, a in inside if retryable(a[2])]
    booked = [at for at, a in inside if a[2] == "201" and a[0] >= start]
    return {
        "refusals": len(refused),
        "first_refusal_s": round(min(refused), 2) if refused else None,
        "last_refusal_s": round(max(refused), 2) if refused else None,
        "first_new_booking_s": round(min(booked), 2) if booked else None,
    }


def _figures(results: list[dict[str, Any]], moments: dict[str, float]) -> dict[str, Any]:
    """What an operator would have seen."""
    attempts = [a for r in results for a in r["attempts"]]
    retried = [r["attempts"] for r in results if len(r["attempts"]) > 1]
    killed, stepped = moments["killed"], moments["stepped_down"]
    return {
        "requests": len(attempts),
        "bookings": sum(1 for r in results if r["booking_id"]),
        "outcomes": dict(Counter(a[2] for a in attempts)),
        "primary_killed": {
            "new_primary_s": round(moments["elected"] - killed, 2),
            **_window(attempts, killed, stepped),
            "old_primary_rejoined_s": round(moments["rejoined"] - killed, 2),
        },
        "primary_stepped_down": {
            "new_primary_s": round(moments["handed_over"] - stepped, 2),
            **_window(attempts, stepped, float("inf")),
        },
        "retried_bookings": len(retried),
        "slowest_retried_booking_s": round(
            max((a[-1][0] + a[-1][1] - a[0][0] for a in retried), default=0.0), 2
        ),
        "slowest_refusal_s": round(
            max((a[1] for a in attempts if retryable(a[2])), default=0.0), 2
        ),
        "slowest_request_s": round(max(a[1] for a in attempts), 2),
    }


def _overlaps(bookings: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    by_provider: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for booking in bookings:
        by_provider[booking["provider_id"]].append(booking)
    found = []
    for held in by_provider.values():
        ordered = sorted(held, key=lambda b: b["occupied_start"])
        found += [
            (a["_id"], b["_id"])
            for a, b in itertools.pairwise(ordered)
            if b["occupied_start"] < a["occupied_end"]
        ]
    return found


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_primary_killed_mid_load_loses_and_doubles_nothing(
    replica_set: ReplicaSet, queue: Server, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        env = set_env(
            replica_set,
            queue,
            "failover",
            rate_limit_requests="1000000",
            promoter_tick_seconds="0.2",
            job_timeout_seconds="60",
        )
        create_admin(env)
        urls = stack.enter_context(api_processes(env, 2))
        promoter = stack.enter_context(holdfast_process(env, "promoter"))
        worker = stack.enter_context(holdfast_process(env, "worker"))
        first_day = (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        targets, tokens = open_all_hours(
            urls[0], first_day, providers=PROVIDERS, days=DAYS, users=CLIENT_PROCESSES
        )

        spawn = multiprocessing.get_context("spawn")
        stop, booked = spawn.Event(), spawn.Value("i", 0)
        outputs = [tmp_path / f"client{seed}.json" for seed in range(CLIENT_PROCESSES)]
        clients = []
        for seed in range(CLIENT_PROCESSES):
            args = (urls, tokens[seed], targets, seed, stop, booked, str(outputs[seed]))
            client = spawn.Process(target=run_client, args=args, daemon=True)
            client.start()
            clients.append(client)
            stack.callback(client.kill)  # a no-op once it has ended
        stack.callback(stop.set)

        def booked_at_least(count: int) -> Callable[[], bool]:
            return lambda: booked.value >= count

        wait_until(booked_at_least(STEP), 90, f"{STEP} bookings before the kill")
        old = replica_set.wait_for_primary()
        killed_at = time.time()
        replica_set.kill(old)
        replica_set.wait_for_primary(60)
        elected_at = time.time()
        # The API finds the new primary by itself: nothing is restarted or told anything.
        wait_until(booked_at_least(booked.value + STEP), 90, f"{STEP} bookings after the election")
        replica_set.restart(old)
        rejoined_at = time.time()
        assert replica_set.role(old) == "secondary"
        wait_until(booked_at_least(booked.value + STEP), 90, f"{STEP} bookings after the rejoin")
        # A graceful hand-over too (maintenance, `rs.stepDown()`): writes in flight on the old
        # primary are interrupted rather than cut off.
        stepped_at = time.time()
        replica_set.step_down(replica_set.wait_for_primary())
        replica_set.wait_for_primary(60)
        handed_over_at = time.time()
        wait_until(booked_at_least(booked.value + STEP), 90, f"{STEP} bookings after the step-down")
        stop.set()
        for client in clients:
            client.join(GIVE_UP_AFTER + REQUEST_TIMEOUT + 30)
            assert client.exitcode == 0, f"a client process ended with {client.exitcode}"
        results = [r for out in outputs for r in json.loads(out.read_text())]
        moments = {
            "killed": killed_at,
            "elected": elected_at,
            "rejoined": rejoined_at,
            "stepped_down": stepped_at,
            "handed_over": handed_over_at,
        }
        figures = _figures(results, moments)
        print(f"\nfailover figures: {json.dumps(figures)}")

        # Every request got an answer a client can act on: never a 500, never given up.
        finals = Counter(r["final"] for r in results)
        assert set(finals) <= {"201", "409 slot_taken"}, (finals, figures)
        seen = {a[2] for r in results for a in r["attempts"]}
        assert seen <= {"201", "409 slot_taken", *RETRYABLE}, (seen, figures)
        assert any(a[0] >= rejoined_at for r in results for a in r["attempts"] if a[2] == "201")
        # Refusals only while there is no primary, ending soon after there is one again: a
        # retry is not kept waiting for the reservation its refused attempt left behind (that
        # lease is 30 s).
        windows = [(killed_at, elected_at), (stepped_at, handed_over_at)]
        outside = [
            (round(a[0] - killed_at, 2), a[2])
            for r in results
            for a in r["attempts"]
            if retryable(a[2])
            and not any(start <= a[0] + a[1] < back + RECOVERY_GRACE for start, back in windows)
        ]
        assert outside == [], (outside, figures)

        # A retried key answers the same booking again; pick the ones that needed retries.
        retried = [r for r in results if r["booking_id"] and len(r["attempts"]) > 1]
        for result in (retried + [r for r in results if r["booking_id"]])[:20]:
            again = httpx.post(
                f"{urls[1]}/api/bookings",
                json=result["body"],
                headers={
                    "Authorization": f"Bearer {result['token']}",
                    "Idempotency-Key": result["key"],
                },
                timeout=REQUEST_TIMEOUT,
            )
            assert again.status_code == 201, again.text
            assert again.json()["id"] == result["booking_id"], result
            assert again.headers.get("Idempotent-Replayed") == "true"

        answered = {r["booking_id"]: r["key"] for r in results if r["booking_id"]}
        mongo: MongoClient[dict[str, Any]]
        with MongoClient(replica_set.url("failover"), tz_aware=True) as mongo:
            db = mongo.get_database()
            bookings = list(db.bookings.find())
            claims = list(db.slot_claims.find())

            # Every 201 exists exactly once, and every booking is one that was answered 201.
            stored = Counter(str(b["_id"]) for b in bookings)
            assert set(stored) == set(answered), (
                f"answered 201 but missing: {sorted(set(answered) - set(stored))}; "
                f"stored but never answered 201: {sorted(set(stored) - set(answered))}"
            )
            assert len(bookings) == len(answered) == len(results) - finals["409 slot_taken"]
            for booking in bookings:
                assert booking["request_key"].endswith(f":{answered[str(booking['_id'])]}")
            assert all(b["status"] == "confirmed" for b in bookings)

            # No two overlap, and each holds exactly its own claim units, no one else's.
            assert _overlaps(bookings) == []
            expected = {
                unit: b["_id"]
                for b in bookings
                for unit in claim_ids(str(b["provider_id"]), b["occupied_start"], b["occupied_end"])
            }
            assert {c["_id"]: c["booking_id"] for c in claims} == expected
            assert len(claims) == len(expected)

            # Each booking's confirmation job exists once, and the worker ran every one.
            def confirmations() -> list[dict[str, Any]]:
                return list(db.jobs.find({"kind": "notify.confirmation"}))

            jobs = Counter(j["subject"] for j in confirmations())
            assert jobs == Counter(f"booking:{b}" for b in answered)
            wait_until(
                lambda: all(j["state"] == "succeeded" for j in confirmations()),
                120,
                "every confirmation job succeeding after the election",
            )
            # A confirmation the election interrupted is retried after its backoff (seconds),
            # not left `running` until its worker's lease runs out (the job timeout + 5 s).
            late = [
                (j["_id"], round((j["finished_at"] - j["created_at"]).total_seconds(), 1))
                for j in confirmations()
                if j["finished_at"] - j["created_at"] > CONFIRMATION_GRACE
            ]
            assert late == [], late

        # The processes rode out the election: all still running, all ready.
        assert promoter.poll() is None and worker.poll() is None
        for url in urls:
            assert httpx.get(f"{url}/health/ready", timeout=10).status_code == 200


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_job_the_election_interrupts_is_retried_not_stranded(
    replica_set: ReplicaSet, services: Services
) -> None:
    """The primary dies while a worker runs a job: the job's failure is recorded on the new
    primary (retry after its backoff) instead of the job staying `running` until the worker's
    lease on it runs out, as if the worker had died."""
    settings = Settings(
        mongo_url=replica_set.url("jobs"),
        queue_redis_url=redis_url(services.queue_redis.port),
        secret_key=SECRET,  # type: ignore[arg-type]
    )
    ctx = await open_context(settings)
    try:

        async def handler(_: Any, job: Job) -> None:
            await asyncio.to_thread(replica_set.kill, replica_set.wait_for_primary())
            await Job.get(job.id)  # no primary for about two seconds: this fails at once

        registry = Registry()
        registry.add(JobKind("test.election", handler))
        now = ctx.now()
        job = Job(
            id="test.election:1",
            kind="test.election",
            subject="s",
            run_at=now,
            created_at=now,
            updated_at=now,
        )
        await job.insert()
        assert await run_job(ctx, job.id, registry) == "retry_wait"
        stored = await Job.get(job.id)
        assert stored is not None
        if stored.attempts == 0:
            # The claim is acknowledged by the primary alone (see `holdfast.jobs.runner`): one
            # the secondaries had not copied yet died with the primary, and the job is due
            # again as if never taken, which is not stranded either.
            assert stored.state == "scheduled" and stored.claim_token is None
            return
        assert stored.state == "retry_wait" and stored.attempts == 1
        # The failure the handler met: the connection to the dead primary, or no primary yet.
        lost = ("AutoReconnect", "ServerSelectionTimeoutError", "NotPrimaryError")
        assert str(stored.last_error).split(":")[0] in lost, stored.last_error
    finally:
        await close_context(ctx)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_processes_started_while_the_set_has_no_primary_wait_for_one(
    replica_set: ReplicaSet, queue: Server, tmp_path: Path
) -> None:
    """A promoter and a worker started during an election (here: two of three members down, so
    no majority) wait for a primary instead of exiting, then run as usual: the worker that
    exited this way left every confirmation unsent."""
    with ExitStack() as stack:
        env = set_env(replica_set, queue, "start")
        primary = replica_set.wait_for_primary()
        down = [primary, (primary + 1) % 3]
        for member in down:
            replica_set.kill(member)
        log = tmp_path / "processes.log"
        promoter = stack.enter_context(holdfast_process(env, "promoter", log=log))
        worker = stack.enter_context(holdfast_process(env, "worker", log=log))
        wait_until(lambda: log.read_text().count("mongo.unreachable_at_start") >= 2, 60, "waits")
        assert promoter.poll() is None and worker.poll() is None
        for member in down:
            replica_set.restart(member)
        replica_set.wait_for_primary(60)
        wait_until(
            lambda: holdfast_check_worker(env) == 0, 90, "the worker running against a primary"
        )
        assert promoter.poll() is None and worker.poll() is None


def set_env(replica_set: ReplicaSet, queue: Server, database: str, **extra: str) -> dict[str, str]:
    """The processes' environment: the replica set's `database`, the test's queue Redis."""
    return process_env(
        mongo_url=replica_set.url(database),
        queue_redis_url=redis_url(queue.port),
        secret_key=SECRET,
        **extra,
    )


def holdfast_check_worker(env: dict[str, str]) -> int:
    """`holdfast worker --check`: 0 once an arq worker wrote its health-check key."""
    return subprocess.run([*HOLDFAST, "worker", "--check"], env=env, capture_output=True).returncode
