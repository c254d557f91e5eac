"""Running one job: claim it in MongoDB, run its handler, record the outcome.

Retries are decided here, in MongoDB (retry_wait with a backed-off run_at, or dead), not by arq:
the queue Redis may lose everything at any moment, the backlog may not.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Literal

import structlog
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.db import unavailable
from holdfast.events import Event
from holdfast.jobs.models import PENDING, Job
from holdfast.jobs.registry import JobKind, Registry
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

log = structlog.get_logger(__name__)
Outcome = Literal["succeeded", "retry_wait", "dead", "skipped"]


async def claim(job_id: str, now: datetime, lease: timedelta) -> Job | None:
    """Take the job for this worker, or None if it is not runnable (done, cancelled, or held by
    a live worker). A running job whose lease has passed belongs to a dead worker."""
    claimed = await Job.get_pymongo_collection().find_one_and_update(
        {
            "_id": job_id,
            "$or": [
                {"state": {"$in": list(PENDING)}},
                {"state": "running", "lease_until": {"$lt": now}},
            ],
        },
        {
            "$set": {
                "state": "running",
                "started_at": now,
                "lease_until": now + lease,
                "updated_at": now,
            },
            "$inc": {"attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    return None if claimed is None else Job.model_validate(claimed)


async def _finish(job: Job, now: datetime, changes: dict[str, object]) -> None:
    """Record this attempt's outcome, while the lease is still ours.

    MongoDB may be out of reach for a moment (an election, often the very reason the job
    failed): giving up would leave the job `running` until its lease ran out, as if this worker
    had died, so the write is tried again until it lands or the lease is over."""
    patience = (as_utc(job.lease_until or now) - now).total_seconds()
    deadline, delay = time.monotonic() + patience, 0.1
    while True:
        try:
            # Conditional on this attempt: a worker that lost its lease must not overwrite a
            # newer one.
            await Job.get_pymongo_collection().update_one(
                {"_id": job.id, "state": "running", "attempts": job.attempts},
                {"$set": {**changes, "updated_at": now}, "$unset": {"lease_until": ""}},
            )
            return
        except PyMongoError as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def run_job(ctx: Context, job_id: str, registry: Registry) -> Outcome:
    outcome = await _run(ctx, job_id, registry)
    if outcome != "skipped":
        await ctx.events.publish(Event("job-updated", {"job_id": job_id}))
    return outcome


async def _run(ctx: Context, job_id: str, registry: Registry) -> Outcome:
    now = ctx.now()
    job = await Job.get(job_id)
    kind = registry.get(job.kind) if job else None
    if job is None or kind is None:
        log.error("jobs.unknown", job=job_id, kind=job.kind if job else None)
        return "skipped"
    claimed = await claim(job_id, now, kind.timeout + timedelta(seconds=5))
    if claimed is None:
        return "skipped"
    try:
        await asyncio.wait_for(kind.handler(ctx, claimed), kind.timeout.total_seconds())
    except Exception as exc:
        return await _failed(ctx, kind, claimed, exc)
    await _finish(
        claimed, ctx.now(), {"state": "succeeded", "finished_at": ctx.now(), "last_error": None}
    )
    return "succeeded"


async def _failed(ctx: Context, kind: JobKind, job: Job, exc: Exception) -> Outcome:
    now = ctx.now()
    error = f"{type(exc).__name__}: {exc}"[:500]
    if job.attempts >= kind.max_attempts:
        await _finish(job, now, {"state": "dead", "finished_at": now, "last_error": error})
        log.error("jobs.dead", job=job.id, attempts=job.attempts, error=error)
        return "dead"
    run_at = now + kind.backoff(job.attempts)
    await _finish(job, now, {"state": "retry_wait", "run_at": run_at, "last_error": error})
    log.warning(
        "jobs.retry", job=job.id, attempts=job.attempts, run_at=run_at.isoformat(), error=error
    )
    return "retry_wait"
