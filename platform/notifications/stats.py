"""Delivery figures for the admin's stats and the alert rules: what was sent, what failed."""

from __future__ import annotations

from datetime import datetime

from holdfast.jobs.models import PENDING
from holdfast.notifications.models import Message
from pydantic import BaseModel


class Deliveries(BaseModel):
    messages: int  # created in the window
    sent: int
    failed_attempts: int  # tries the provider refused or did not answer
    failing: int  # of those messages, still failing now (the job retries them)


async def deliveries(start: datetime, end: datetime) -> Deliveries:
    """Messages created in [start, end). A sent message's last try succeeded, so its failed
    tries are its attempts but one; an unsent one's are all its attempts."""
    rows = Message.get_pymongo_collection().aggregate(
        [
            {"$match": {"created_at": {"$gte": start, "$lt": end}}},
            {
                "$group": {
                    "_id": None,
                    "messages": {"$sum": 1},
                    "sent": {"$sum": {"$cond": [{"$eq": ["$status", "sent"]}, 1, 0]}},
                    "failing": {"$sum": {"$cond": [{"$eq": ["$status", "failed"]}, 1, 0]}},
                    "attempts": {"$sum": "$attempts"},
                }
            },
        ]
    )
    found = [row async for row in await rows]
    if not found:
        return Deliveries(messages=0, sent=0, failed_attempts=0, failing=0)
    row = found[0]
    return Deliveries(
        messages=row["messages"],
        sent=row["sent"],
        failed_attempts=row["attempts"] - row["sent"],
        failing=row["failing"],
    )


async def failing_now() -> int:
    """Messages whose last try failed and whose job still retries them (a dead job's messages
    stay failed for good: they are the dead letters' business, not a delivery problem now)."""
    retried = Message.get_pymongo_collection().aggregate(
        [
            {"$match": {"status": "failed"}},  # the partial index of failing messages
            {
                "$lookup": {
                    "from": "jobs",
                    "localField": "job_id",
                    "foreignField": "_id",
                    "as": "job",
                }
            },
            {"$match": {"job.state": {"$in": [*PENDING, "running"]}}},
            {"$count": "n"},
        ]
    )
    found = [row async for row in await retried]
    return int(found[0]["n"]) if found else 0
