"""The retention job: what is pruned, after how long, a batch at a time.

Nothing the platform writes per booking may grow without bound: past slot claims, finished jobs
and old messages are pruned by this periodic job (hourly); bookings and their audit trail are
kept. Each collection is pruned in batches of `retention_batch` with a pause between them, so
the database is never held for long, and within a time budget per run: a backlog (the first run
on years of history) is worked off over the following runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime, timedelta

import structlog
from holdfast.bookings.retention import prune_past_claims
from holdfast.context import Context
from holdfast.jobs.models import Heartbeat, Job
from holdfast.jobs.registry import JobKind
from holdfast.notifications.retention import prune_messages

log = structlog.get_logger(__name__)
KIND = "retention.prune"
EVERY = timedelta(hours=1)
PAUSE_SECONDS = 0.05  # between batches: other writers go first
BUDGET = 0.75  # of the job's timeout, shared out among the collections


async def prune_finished_jobs(
    before: datetime, dead_before: datetime, batch: int
) -> AsyncGenerator[int, None]:
    """Delete, `batch` at a time, succeeded and cancelled jobs finished before `before` and
    dead ones before `dead_before` (an admin may still retry those); yields per batch."""
    jobs = Job.get_pymongo_collection()
    for states, cutoff in ((["succeeded", "cancelled"], before), (["dead"], dead_before)):
        # run_at bounds the search on the (state, run_at) index; a job finishes after its run_at.
        old = {"state": {"$in": states}, "run_at": {"$lt": cutoff}, "finished_at": {"$lt": cutoff}}
        while True:
            found = [doc["_id"] async for doc in jobs.find(old, {"_id": 1}).limit(batch)]
            if not found:
                break
            yield (await jobs.delete_many({**old, "_id": {"$in": found}})).deleted_count
            if len(found) < batch:
                break


async def prune(ctx: Context, job: Job) -> None:
    settings = ctx.settings
    now = ctx.now()

    def days(count: int) -> datetime:
        return now - timedelta(days=count)

    # One per promoter process that ever ran (named by host and pid): a handful, in one go.
    await Heartbeat.get_pymongo_collection().delete_many(
        {"at": {"$lt": days(settings.retention_job_days)}}
    )
    batch = settings.retention_batch
    steps = {
        "slot_claims": prune_past_claims(days(settings.retention_claim_days), batch),
        "jobs": prune_finished_jobs(
            days(settings.retention_job_days), days(settings.retention_dead_job_days), batch
        ),
        "messages": prune_messages(days(settings.retention_message_days), batch),
    }
    share = settings.job_timeout_seconds * BUDGET / len(steps)
    pruned = dict.fromkeys(steps, 0)
    unfinished = []
    for name, batches in steps.items():
        deadline = time.monotonic() + share
        async with aclosing(batches):
            async for deleted in batches:
                pruned[name] += deleted
                if time.monotonic() >= deadline:
                    unfinished.append(name)  # the next run carries on
                    break
                await asyncio.sleep(PAUSE_SECONDS)
    log.info("retention.pruned", **pruned, unfinished=unfinished)


def kinds(job_timeout: timedelta) -> list[JobKind]:
    return [JobKind(KIND, prune, timeout=job_timeout, every=EVERY)]
