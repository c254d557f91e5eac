"""Handing jobs from the MongoDB backlog to the queue Redis (arq), idempotently.

The arq job id is the Mongo job id plus its attempt number: two promoters handing over the same
attempt collide on it in arq, and a retry gets a fresh id (arq refuses an id whose result it
still keeps). A job is marked promoted only by a conditional update, after it is queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

import structlog
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from holdfast.jobs.models import WAITING, Job
from pymongo import UpdateOne
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)
RUN_JOB = "run_job"  # the one arq function; it dispatches on the Mongo job's kind
HAND_OFF_CHUNK = 100  # arq enqueues in flight at once
# How long a job written as promoted may wait for its post-commit push before the repair
# treats it as lost.
REPAIR_GRACE = timedelta(seconds=3)


class Attempt(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def attempts(self) -> int: ...


class Handed(NamedTuple):
    """What the repair reads of a job handed over or running: which attempt it is."""

    id: str
    attempts: int


def arq_id(job: Attempt) -> str:
    return f"{job.id}#{job.attempts}"


def due_filter(now: datetime, window: timedelta) -> dict[str, Any]:
    """Pure: the jobs the promoter should hand over at `now`."""
    return {"state": {"$in": list(WAITING)}, "run_at": {"$lte": now + window}}


async def enqueue(queue: ArqRedis, job: Job) -> bool:
    """Queue one job in arq; True if queued now, False if arq already holds this attempt."""
    queued = await queue.enqueue_job(RUN_JOB, job.id, _job_id=arq_id(job), _defer_until=job.run_at)
    return queued is not None


async def hand_off(queue: ArqRedis, jobs: list[Job], now: datetime) -> int:
    """Queue these jobs and mark them promoted; returns how many were marked by this call.

    Everything is queued before anything is marked: a job marked promoted but never queued
    would wait for a repair, one queued but not marked is simply queued again (arq dedupes).
    """
    for start in range(0, len(jobs), HAND_OFF_CHUNK):
        chunk = jobs[start : start + HAND_OFF_CHUNK]
        await asyncio.gather(*(enqueue(queue, job) for job in chunk))
    # Jobs written as promoted in their business transaction (`schedule_all(handed_over_at=)`)
    # are only queued: there is nothing to mark.
    jobs = [job for job in jobs if job.state in WAITING]
    if not jobs:
        return 0
    result = await Job.get_pymongo_collection().bulk_write(
        [
            UpdateOne(
                {"_id": job.id, "state": {"$in": list(WAITING)}, "attempts": job.attempts},
                {"$set": {"state": "promoted", "promoted_at": now, "updated_at": now}},
            )
            for job in jobs
        ],
        ordered=False,
    )
    return int(result.modified_count)


async def push_after_commit(queue: ArqRedis, jobs: list[Job], now: datetime) -> None:
    """Best effort, right after a business commit: the promoter is the safety net."""
    try:
        await hand_off(queue, [j for j in jobs if j.run_at <= now], now)
    except (TimeoutError, RedisError, OSError) as exc:
        log.warning("jobs.push_failed", error=str(exc)[:200], jobs=[j.id for j in jobs])


async def promote_due(queue: ArqRedis, now: datetime, window: timedelta, limit: int = 500) -> int:
    cursor = Job.find(due_filter(now, window)).sort("run_at").limit(limit)
    return await hand_off(queue, await cursor.to_list(), now)


async def repair(queue: ArqRedis, now: datetime, chunk_size: int = 1000) -> int:
    """Put back in the backlog what the queue Redis lost, and what a dead worker was running.

    A promoted job whose arq key is gone (Redis flushed or restarted empty) and a running job
    whose lease ran out both return to `scheduled`; the next promotion queues them again.
    """
    repaired, chunk = 0, []
    # Every promoted job is looked at (there are only as many as the window holds), except
    # those promoted moments ago: a job written as promoted in its business transaction is
    # queued right after that commit, and may be on its way.
    settled = now - REPAIR_GRACE
    # Only which attempt each is: every tick that repairs reads all the promoted jobs, and
    # whole documents cost the promoter a model validation each.
    async for job in _attempts({"state": "promoted", "promoted_at": {"$lte": settled}}):
        chunk.append(job)
        if len(chunk) == chunk_size:
            repaired += await _repair_promoted(queue, chunk, now)
            chunk = []
    repaired += await _repair_promoted(queue, chunk, now)
    async for job in _attempts({"state": "running", "lease_until": {"$lt": now}}):
        repaired += await _reschedule(job, "running", now)
    return repaired


async def _attempts(where: dict[str, Any]) -> AsyncIterator[Handed]:
    async for raw in Job.get_pymongo_collection().find(where, projection={"attempts": 1}):
        yield Handed(raw["_id"], raw["attempts"])


async def _repair_promoted(queue: ArqRedis, jobs: list[Handed], now: datetime) -> int:
    if not jobs:
        return 0
    async with queue.pipeline(transaction=False) as pipe:
        for job in jobs:
            key = arq_id(job)
            pipe.exists(job_key_prefix + key, in_progress_key_prefix + key)
        present = await pipe.execute()
    missing = [job for job, count in zip(jobs, present, strict=True) if not count]
    return sum([await _reschedule(job, "promoted", now) for job in missing])


async def _reschedule(job: Handed, state: str, now: datetime) -> int:
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job.id, "state": state, "attempts": job.attempts},
        {"$set": {"state": "scheduled", "updated_at": now}},
    )
    if result.modified_count:
        log.info("jobs.repaired", job=job.id, was=state)
    return result.modified_count
