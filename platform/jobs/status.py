"""What the backlog looks like right now: for /health/ready and /metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, get_args

from holdfast.clock import as_utc
from holdfast.jobs.handoff import due_filter
from holdfast.jobs.models import WAITING, Heartbeat, Job, JobState

STALE_AFTER = timedelta(seconds=30)


async def promoter_status(now: datetime) -> dict[str, Any]:
    beats = await Heartbeat.find({"kind": "promoter"}).sort("-at").limit(5).to_list()
    live = [b for b in beats if now - as_utc(b.at) <= STALE_AFTER]
    oldest = await _oldest_due(now)
    return {
        "status": "ok" if live else ("stale" if beats else "absent"),
        "last_seen_seconds": round((now - as_utc(beats[0].at)).total_seconds(), 1)
        if beats
        else None,
        "queue_redis": live[0].data.get("queue_redis") if live else None,
        "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
    }


async def backlog_counts(now: datetime, window: timedelta) -> dict[str, float]:
    collection = Job.get_pymongo_collection()
    oldest = await _oldest_due(now)
    return {
        "backlog": await collection.count_documents({"state": {"$in": list(WAITING)}}),
        "due_not_promoted": await collection.count_documents(due_filter(now, window)),
        "dead": await collection.count_documents({"state": "dead"}),
        "oldest_due_age_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }


async def died(start: datetime, end: datetime) -> int:
    """How many jobs gave up (went dead) in [start, end); `run_at` bounds it for the
    (state, run_at) index, as a job dies after it was due."""
    return await Job.get_pymongo_collection().count_documents(
        {"state": "dead", "run_at": {"$lt": end}, "finished_at": {"$gte": start, "$lt": end}}
    )


async def _oldest_due(now: datetime) -> datetime | None:
    """When the longest-waiting due job fell due, if any is waiting."""
    oldest = await Job.get_pymongo_collection().find_one(
        due_filter(now, timedelta(0)), sort=[("run_at", 1)], projection={"run_at": 1}
    )
    return as_utc(oldest["run_at"]) if oldest else None


async def lags(start: datetime, end: datetime, most: int = 20_000) -> list[float]:
    """Seconds from being due to starting, of the jobs due in [start, end) that started (the
    newest `most`): how far behind the queue ran."""
    found = Job.get_pymongo_collection().find(
        {
            "state": {"$in": list(get_args(JobState))},  # the (state, run_at) index
            "run_at": {"$gte": start, "$lt": end},
            "started_at": {"$ne": None},
        },
        {"run_at": 1, "started_at": 1},
    )
    rows = await found.sort("run_at", -1).limit(most).to_list()
    return [max(0.0, (as_utc(r["started_at"]) - as_utc(r["run_at"])).total_seconds()) for r in rows]
