"""Pruning old messages once nothing can send them again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from holdfast.jobs.models import Job
from holdfast.notifications.models import Message

# A message's id is its dedupe key: while its job may still run (waiting, running, dead and
# retryable by an admin), pruning the record of a sent message would let that run send it again.
FINISHED_FOR_GOOD = ["succeeded", "cancelled"]


async def prune_messages(before: datetime, batch: int) -> AsyncGenerator[int, None]:
    """Delete, `batch` at a time, messages created before `before` whose job has finished for
    good or is gone; yields how many each batch deleted."""
    messages = Message.get_pymongo_collection()
    live: set[str] = set()  # jobs found still able to run: their messages are passed over
    while True:
        found = await (
            messages.find(
                {"created_at": {"$lt": before}, "job_id": {"$nin": list(live)}}, {"job_id": 1}
            )
            .sort("created_at", 1)
            .limit(batch)
            .to_list()
        )
        if not found:
            return
        live |= {
            job["_id"]
            async for job in Job.get_pymongo_collection().find(
                {
                    "_id": {"$in": list({m["job_id"] for m in found})},
                    "state": {"$nin": FINISHED_FOR_GOOD},
                },
                {"_id": 1},
            )
        }
        done = [m["_id"] for m in found if m["job_id"] not in live]
        if done:
            yield (await messages.delete_many({"_id": {"$in": done}})).deleted_count
        if len(found) < batch:
            return
