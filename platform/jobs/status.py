"""What the backlog looks like right now: for /health/ready and /metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from holdfast.clock import as_utc
from holdfast.jobs.models import WAITING, Heartbeat, Job

STALE_AFTER = timedelta(seconds=30)


async def promoter_status(now: datetime) -> dict[str, Any]:
    beats = await Heartbeat.find({"kind": "promoter"}).sort("-at").limit(5).to_list()
    live = [b for b in beats if now - as_utc(b.at) <= STALE_AFTER]
    oldest = (
        await Job.find({"state": {"$in": list(WAITING)}, "run_at": {"$lte": now}})
        .sort("run_at")
        .first_or_none()
    )
    return {
        "status": "ok" if live else ("stale" if beats else "absent"),
        "last_seen_seconds": round((now - as_utc(beats[0].at)).total_seconds(), 1)
        if beats
        else None,
        "queue_redis": live[0].data.get("queue_redis") if live else None,
        "oldest_due_seconds": round((now - as_utc(oldest.run_at)).total_seconds(), 1)
        if oldest
        else 0.0,
    }


async def backlog_counts(now: datetime, window: timedelta) -> dict[str, float]:
    collection = Job.get_pymongo_collection()
    waiting = {"state": {"$in": list(WAITING)}}
    oldest = await collection.find_one({**waiting, "run_at": {"$lte": now}}, sort=[("run_at", 1)])
    return {
        "backlog": await collection.count_documents(waiting),
        "due_not_promoted": await collection.count_documents(
            {**waiting, "run_at": {"$lte": now + window}}
        ),
        "dead": await collection.count_documents({"state": "dead"}),
        "oldest_due_age_seconds": (now - as_utc(oldest["run_at"])).total_seconds()
        if oldest
        else 0.0,
    }
