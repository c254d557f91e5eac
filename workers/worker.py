"""`holdfast worker`: an arq worker whose one function runs a MongoDB job by id.

The job's record decides everything (whether it still runs, how often it was tried, when it
retries), so arq's own retries and results are not used: `keep_result=0` also lets a later
attempt reuse nothing arq would refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any, TypedDict, cast

import structlog
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker, async_check_health, func
from holdfast import runtime
from holdfast.context import Context, close_context, open_context
from holdfast.db import STARTUP_PATIENCE_SECONDS, keep_ensuring_indexes
from holdfast.jobs.handoff import RUN_JOB
from holdfast.jobs.registry import Registry, default_registry
from holdfast.jobs.runner import Outcome, run_job
from holdfast.logs import configure_logging
from holdfast.monitoring.alerts import watch_promoter
from holdfast.settings import Settings
from redis.exceptions import RedisError

log = structlog.get_logger("holdfast.worker")


class WorkerContext(TypedDict):
    holdfast: Context
    registry: Registry


async def execute(ctx: dict[str, Any], job_id: str) -> Outcome:
    typed = cast(WorkerContext, ctx)
    return await run_job(typed["holdfast"], job_id, typed["registry"])


class OneTripWorker(Worker):
    """arq's worker, taking each job it polled in one round trip to the queue Redis.

    arq's own `start_jobs` makes four per job (WATCH the job's in-progress key, EXISTS, ZSCORE,
    then MULTI/PSETEX/EXEC), 12% of the worker's CPU per confirmation: the same check and
    mark as one MULTI/EXEC (SET NX of the in-progress key, ZSCORE) is as atomic, since SET NX
    decides which worker marks the job and the queue's score says whether it is still due.
    Nothing rests on it alone either: the job's claim in MongoDB decides who runs it (see
    `holdfast.jobs.runner`). The bookkeeping around it (the semaphore, the counter, the task
    table) is arq's own, as in the method it replaces (arq 0.26-0.29)."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for raw in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = raw.decode()
            in_progress = in_progress_key_prefix + job_id
            async with self.pool.pipeline(transaction=True) as pipe:
                pipe.set(in_progress, b"1", px=int(self.in_progress_timeout_s * 1000), nx=True)
                pipe.zscore(self.queue_name, job_id)
                marked, score = await pipe.execute()
            if not marked or not score or score > timestamp_ms():
                # Running elsewhere, finished already, or queued again for later: not ours.
                if marked:
                    await self.pool.delete(in_progress)
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(score)))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task


def build_worker(holdfast: Context, *, burst: bool = False) -> Worker:
    """An arq worker over an open context; the context outlives it (see serve())."""
    settings = holdfast.settings
    registry = holdfast.runs_jobs or default_registry(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx.update(WorkerContext(holdfast=holdfast, registry=registry))

    redis = RedisSettings.from_dsn(settings.queue_redis_url)
    redis.conn_retries, redis.conn_retry_delay = 30, 1
    return OneTripWorker(
        functions=[func(execute, name=RUN_JOB, max_tries=20)],
        redis_settings=redis,
        on_startup=startup,
        keep_result=0,
        job_timeout=settings.job_timeout_seconds + 10,
        max_jobs=20,
        poll_delay=settings.worker_poll_seconds,
        health_check_interval=10,
        handle_signals=False,  # the process owns its signals: see serve()
        burst=burst,
    )


async def serve(settings: Settings, stop: asyncio.Event, drain_seconds: float = 10.0) -> None:
    """Run arq workers until `stop`, over one context opened here. arq's worker gives up when
    the queue Redis connection drops; this loop does not: it builds a fresh worker and carries on
    when Redis returns (a job interrupted meanwhile is still `running` in MongoDB and comes back
    when its lease ends). Indexes are ensured in the background, as MongoDB allows."""
    # The jobs its handlers write that are due at once run here, right after their commit.
    holdfast = await open_context(
        settings, runs_jobs=default_registry(settings), patience=STARTUP_PATIENCE_SECONDS
    )
    indexes = asyncio.create_task(keep_ensuring_indexes(holdfast.indexes))
    watching = asyncio.create_task(watch_promoter(holdfast, stop))
    try:
        await _serve(holdfast, stop, drain_seconds)
    finally:
        indexes.cancel()
        watching.cancel()
        await close_context(holdfast)


async def _serve(holdfast: Context, stop: asyncio.Event, drain_seconds: float) -> None:
    settings = holdfast.settings
    delay = 0.5
    while not stop.is_set():
        worker = build_worker(holdfast)
        running = asyncio.create_task(worker.async_run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            await _drain(holdfast, worker, running, drain_seconds)
            return
        error = running.exception()
        if not isinstance(error, RedisError | OSError):
            await _close_quietly(worker)
            raise error or RuntimeError("the arq worker stopped by itself")
        log.warning("worker.queue_redis_lost", error=str(error)[:200], restart_in_s=delay)
        # Jobs in flight need MongoDB and their provider, not Redis: cancelling one between
        # "the SMTP server accepted" and "marked sent" would send it twice.
        await _drain(holdfast, worker, running, settings.job_timeout_seconds + drain_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 10.0)


async def _drain(
    holdfast: Context, worker: Worker, running: asyncio.Task[None], seconds: float
) -> None:
    """Graceful stop: take no new jobs, let the ones in flight finish (those arq gave, and those
    run here after their handler wrote them, which may start more), then close."""
    if worker.main_task is not None:
        worker.main_task.cancel()
    with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
        await running
    deadline = time.monotonic() + seconds
    while in_flight := [t for t in (*worker.tasks.values(), *holdfast.background) if not t.done()]:
        if time.monotonic() >= deadline:
            break
        log.info("worker.draining", jobs=len(in_flight), timeout_s=seconds)
        await asyncio.wait(in_flight, timeout=deadline - time.monotonic())
    await _close_quietly(worker)


async def _close_quietly(worker: Worker) -> None:
    # close() cancels what is left; with Redis gone it may fail midway.
    with contextlib.suppress(RedisError, OSError, asyncio.CancelledError):
        await worker.close()


def check(settings: Settings) -> int:
    """`holdfast worker --check`: 0 if a worker wrote arq's health-check key recently."""
    redis = RedisSettings.from_dsn(settings.queue_redis_url)
    redis.conn_retries = 0
    try:
        return asyncio.run(async_check_health(redis))
    except (RedisError, OSError):
        return 1


def main(settings: Settings) -> int:
    configure_logging()
    runtime.run_in_background(settings.background_nice)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(settings, stop)

    runtime.run(run())
    return 0
