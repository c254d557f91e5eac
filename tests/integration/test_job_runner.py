"""The job runner's claims: only what is due, held by one live worker, known to the worker.

Each test runs jobs through the real runner (and, where arq delivers, a real arq worker) against
the real MongoDB and queue Redis; the test clock stands in for machines whose clocks differ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from arq.constants import in_progress_key_prefix
from holdfast.context import Context
from holdfast.jobs.handoff import RUN_JOB, arq_id, promote_due, repair
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind, Registry, default_registry
from holdfast.jobs.runner import run_job
from holdfast.jobs.service import schedule
from holdfast.notifications.models import Message
from holdfast.settings import Settings
from structlog.testing import capture_logs

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.integration.conftest import FailCommands
from tests.support import Practice, register, run_all_due, with_senders
from workers.worker import build_worker

START = "2027-03-03T11:00:00Z"  # Wednesday; the test clock starts on Monday 06:00Z
LEASE = 2  # seconds: renewed every half second


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url).model_copy(update={"job_lease_seconds": LEASE})


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 20
    while not await condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.05)


async def book(client: httpx.AsyncClient, practice: Practice, ctx: Context) -> str:
    """Book a session; the id of its confirmation job (not yet run)."""
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    made = await client.post("/api/bookings", json=body, headers=await register(client))
    assert made.status_code == 201, made.text
    await asyncio.gather(*ctx.background)  # the after-commit push
    [job] = await Job.find(Job.kind == "notify.confirmation").to_list()
    return job.id


class Slow:
    """A job kind whose handler runs until the test lets it finish."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.runs = 0
        self.completed = 0

    async def __call__(self, ctx: Context, job: Job) -> None:
        self.runs += 1
        self.started.set()
        await self.finish.wait()
        self.completed += 1

    def registry(self) -> Registry:
        registry = Registry()
        registry.add(JobKind("test.slow", self, timeout=timedelta(seconds=5)))
        return registry


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")  # arq's close()
async def test_a_late_arq_delivery_does_not_skip_a_retry_backoff(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, smtp: SmtpSink, clock: Clock
) -> None:
    smtp.refuse = 1
    job_id = await book(client, practice, ctx)
    assert await run_all_due(ctx, ctx.settings) == ["retry_wait"]
    waiting = await Job.get(job_id)
    assert waiting is not None and waiting.state == "retry_wait"

    # arq hands the first attempt over again (a redelivery after a worker restart, say).
    await ctx.queue_redis.flushall()
    first_attempt = waiting.model_copy(update={"attempts": 0})
    await ctx.queue_redis.enqueue_job(RUN_JOB, job_id, _job_id=arq_id(first_attempt))
    worker = build_worker(ctx, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()

    after = await Job.get(job_id)
    assert after is not None
    assert (after.state, after.attempts, after.run_at) == ("retry_wait", 1, waiting.run_at)
    assert smtp.messages == []  # the backoff was kept: nothing was tried early


async def test_a_long_job_keeps_its_lease_so_no_second_worker_runs_it(
    ctx: Context, clock: Clock
) -> None:
    slow = Slow()
    registry = slow.registry()
    job = await schedule(None, kind="test.slow", subject="s", run_at=clock.now, now=clock.now)
    first = asyncio.create_task(run_job(ctx, job.id, registry))
    await slow.started.wait()

    # Another machine's clock is 30 s ahead of the one that claimed the job (or the job simply
    # ran long): the lease written at the claim has passed, by that clock.
    clock.advance(seconds=30)

    async def renewed() -> bool:
        found = await Job.get(job.id)
        return (
            found is not None
            and found.lease_until is not None
            and (found.lease_until.replace(tzinfo=clock.now.tzinfo) > clock.now)
        )

    await until(renewed)
    assert await repair(ctx.queue_redis, clock.now) == 0
    assert await run_job(ctx, job.id, registry) == "skipped"  # a second worker gets nothing

    slow.finish.set()
    assert await first == "succeeded"
    assert slow.runs == 1
    done = await Job.get(job.id)
    assert done is not None and (done.state, done.attempts) == ("succeeded", 1)


async def test_a_worker_that_lost_its_lease_stops_its_handler(ctx: Context, clock: Clock) -> None:
    slow = Slow()
    registry = slow.registry()
    job = await schedule(None, kind="test.slow", subject="s", run_at=clock.now, now=clock.now)
    first = asyncio.create_task(run_job(ctx, job.id, registry))
    await slow.started.wait()

    # Its renewals did not reach MongoDB in time: another worker took the job over.
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id}, {"$set": {"lease_until": clock.now - timedelta(seconds=1)}}
    )
    second = asyncio.create_task(run_job(ctx, job.id, registry))
    assert await asyncio.wait_for(first, 10) == "skipped"  # it noticed and stopped
    assert slow.completed == 0
    slow.finish.set()
    assert await second == "succeeded"
    assert slow.runs == 2 and slow.completed == 1
    done = await Job.get(job.id)
    assert done is not None and (done.state, done.attempts) == ("succeeded", 2)


async def test_a_job_kind_this_worker_does_not_know_goes_back_for_a_worker_that_does(
    ctx: Context, settings: Settings, clock: Clock
) -> None:
    window = timedelta(minutes=10)
    job = await schedule(None, kind="test.newer", subject="s", run_at=clock.now, now=clock.now)
    assert await promote_due(ctx.queue_redis, clock.now, window) == 1
    old_worker = default_registry(settings)  # from before the kind existed

    assert await run_job(ctx, job.id, old_worker) == "returned"
    back = await Job.get(job.id)
    assert back is not None and back.state == "scheduled" and back.attempts == 0
    assert back.run_at.replace(tzinfo=clock.now.tzinfo) > clock.now  # not straight back
    assert back.last_error is not None and "test.newer" in back.last_error

    # It comes round again, and this time a worker that knows the kind takes it.
    clock.now = back.run_at.replace(tzinfo=clock.now.tzinfo)
    assert await promote_due(ctx.queue_redis, clock.now, window) == 1
    ran: list[str] = []

    async def handler(ctx: Context, job: Job) -> None:
        ran.append(job.id)

    new_worker = Registry()
    new_worker.add(JobKind("test.newer", handler))
    assert await run_job(ctx, job.id, new_worker) == "succeeded"
    assert ran == [job.id]


async def test_a_job_kind_no_worker_knows_goes_dead_with_its_reason(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, clock: Clock
) -> None:
    window = timedelta(minutes=10)
    job = await schedule(None, kind="test.unknown", subject="s", run_at=clock.now, now=clock.now)
    old_worker = default_registry(settings)
    outcomes = []
    for _ in range(500):
        if await promote_due(ctx.queue_redis, clock.now, window):
            outcomes.append(await run_job(ctx, job.id, old_worker))
        if outcomes[-1:] == ["dead"]:
            break
        clock.advance(minutes=1)
    assert outcomes[-1] == "dead" and set(outcomes[:-1]) == {"returned"}
    assert clock.now - job.created_at >= timedelta(hours=1)  # it had a fair chance first
    dead = (
        await client.get("/api/admin/jobs", params={"state": "dead"}, headers=practice.admin)
    ).json()
    assert [j["id"] for j in dead] == [job.id]
    assert "test.unknown" in dead[0]["last_error"]
    # The admin can give it another chance once a worker that knows it is deployed.
    retried = await client.post(f"/api/admin/jobs/{job.id}/retry", headers=practice.admin)
    assert retried.status_code == 200 and retried.json()["state"] == "scheduled"
    assert await run_job(ctx, job.id, old_worker) == "returned"


async def test_two_workers_never_both_send_a_message(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, smtp: SmtpSink, clock: Clock
) -> None:
    smtp.stall_seconds = 3  # the first SMTP conversation hangs before DATA
    job_id = await book(client, practice, ctx)
    registry = default_registry(ctx.settings)
    first = asyncio.create_task(run_job(ctx, job_id, registry))
    assert await asyncio.to_thread(smtp.stalled.wait, 20), "the worker never reached SMTP"

    # Meanwhile the job is handed to a second worker (the first one's lease looked over).
    await Job.get_pymongo_collection().update_one(
        {"_id": job_id}, {"$set": {"lease_until": clock.now - timedelta(seconds=1)}}
    )
    assert await run_job(ctx, job_id, registry) == "retry_wait"  # it leaves the email alone
    await first
    for _ in range(6):  # later attempts deliver it if the first one did not
        clock.advance(minutes=5)
        await run_all_due(ctx, ctx.settings)
    await asyncio.sleep(smtp.stall_seconds)  # the stalled conversation has ended by now
    assert len(smtp.messages) == 1
    done = await Job.get(job_id)
    assert done is not None and done.state == "succeeded"


async def test_a_claim_whose_answer_was_lost_is_still_this_workers(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    fail_commands: FailCommands,
) -> None:
    """An election can apply the claim and lose its answer (here: a write-concern error on a
    claim that did happen, and on the next try): the worker asks again with its claim's token
    and runs the job now, instead of the job sitting `running` under a claim nobody knows of
    until its lease runs out (seen in the failover test: confirmations a lease late)."""
    job_id = await book(client, practice, ctx)
    lost = {"writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}}
    fail_commands(["findAndModify"], times=2, **lost)
    assert await run_job(ctx, job_id, default_registry(settings)) == "succeeded"
    job = await Job.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("succeeded", 1)
    assert len(smtp.messages) == 1


async def test_a_confirmation_whose_bookkeeping_was_lost_runs_again_and_sends_once(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, smtp: SmtpSink
) -> None:
    """The runner's claim and outcome are acknowledged by the primary alone (`w: 1`): a primary
    that dies moments after them can lose both. The job is then as it was before it ran, and it
    runs again: the email, sent and durably marked so, is not sent a second time."""
    job_id = await book(client, practice, ctx)
    jobs = Job.get_pymongo_collection()
    before = await jobs.find_one({"_id": job_id})
    assert before is not None and before["attempts"] == 0
    registry = default_registry(ctx.settings)
    assert await run_job(ctx, job_id, registry) == "succeeded"
    assert len(smtp.messages) == 1

    # What a new primary holds if the claim and the outcome never reached it.
    await jobs.replace_one({"_id": job_id}, before)
    assert await run_job(ctx, job_id, registry) == "succeeded"
    assert len(smtp.messages) == 1
    [message] = await Message.find(Message.job_id == job_id).to_list()
    assert (message.status, message.attempts) == ("sent", 1)
    done = await Job.get(job_id)
    assert done is not None and (done.state, done.attempts) == ("succeeded", 1)


async def test_a_claim_and_an_outcome_whose_answers_were_lost_are_each_made_once(
    ctx: Context, clock: Clock, fail_commands: FailCommands
) -> None:
    """The runner's claim and outcome are plain commands, which the driver does not retry: one
    that was applied but whose answer was lost (here, the primary stepping down as it answered)
    is tried again by the runner, which finds it made and neither runs the job twice nor
    reports the outcome as lost."""
    runs: list[int] = []
    stepping_down = {"code": 91, "errmsg": "the primary is shutting down"}

    async def note(_: Context, job: Job) -> None:
        runs.append(job.attempts)
        fail_commands(["update"], writeConcernError=stepping_down)  # the outcome's, next

    registry = Registry()
    registry.add(JobKind("test.note", note, timeout=timedelta(seconds=5)))
    job = await schedule(None, kind="test.note", subject="s", run_at=clock.now, now=clock.now)
    fail_commands(["findAndModify"], writeConcernError=stepping_down)  # the claim's
    with capture_logs() as logs:
        assert await run_job(ctx, job.id, registry) == "succeeded"
    assert runs == [1]
    done = await Job.get(job.id)
    assert done is not None and (done.state, done.attempts) == ("succeeded", 1)
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == []


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")  # arq's close()
async def test_a_worker_leaves_a_job_another_worker_has_marked_in_progress(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, smtp: SmtpSink
) -> None:
    """A worker takes each job it polls in one round trip (see `workers.worker.OneTripWorker`):
    one another worker has marked in progress is left to it, and taken once that mark is gone."""
    job_id = await book(client, practice, ctx)
    job = await Job.get(job_id)
    assert job is not None and job.state == "promoted"
    # Queued due now by the machine's clock (the push deferred it to the test clock's now).
    await ctx.queue_redis.flushall()
    await ctx.queue_redis.enqueue_job(RUN_JOB, job_id, _job_id=arq_id(job))
    elsewhere = in_progress_key_prefix + arq_id(job)
    await ctx.queue_redis.set(elsewhere, b"1")

    async def burst() -> None:
        worker = build_worker(ctx, burst=True)
        try:
            await asyncio.wait_for(worker.async_run(), 3)
        finally:
            await worker.close()

    with pytest.raises(TimeoutError):  # the job stays queued: a burst worker waits for it
        await burst()
    untouched = await Job.get(job_id)
    assert untouched is not None and (untouched.state, untouched.attempts) == ("promoted", 0)
    assert smtp.messages == []
    assert await ctx.queue_redis.get(elsewhere) == b"1"  # the other worker's mark stands

    await ctx.queue_redis.delete(elsewhere)  # that worker died; arq's key would expire
    await burst()
    done = await Job.get(job_id)
    assert done is not None and (done.state, done.attempts) == ("succeeded", 1)
    assert len(smtp.messages) == 1
