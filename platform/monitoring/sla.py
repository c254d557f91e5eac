"""The service objectives the practice is promised, and how the window measured up to them.

- A booking's confirmation is delivered within 60 s of the booking (99% of them): measured on
  the confirmation jobs, written in the booking's transaction and finished once every message
  of it was handed to the provider. One still unfinished after 60 s counts as missed.
- A freed slot's first waitlist offer is made within 1 s of the cancellation (99%): measured
  on the waitlist's openings that were offered, or are still open past 1 s.
- Bookings are answered in under 300 ms at the 95th percentile: measured by the API on every
  `POST /api/bookings` (see holdfast.monitoring.traffic).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from holdfast.jobs.models import Job, JobState
from holdfast.monitoring.traffic import Attempts
from holdfast.waitlist.models import Opening
from pydantic import BaseModel

CONFIRMATION_WITHIN = timedelta(seconds=60)
OFFER_WITHIN = timedelta(seconds=1)
BOOKING_WITHIN_MS = 300
CONFIRMATION_KIND = "notify.confirmation"


class Objective(BaseModel):
    name: str
    objective: str
    target: float  # the share that must be within it
    measured: int  # how many were judged
    within: int
    compliance: float | None  # within / measured; None: nothing to judge
    met: bool | None


def _objective(name: str, sentence: str, target: float, measured: int, within: int) -> Objective:
    compliance = round(within / measured, 4) if measured else None
    return Objective(
        name=name,
        objective=sentence,
        target=target,
        measured=measured,
        within=within,
        compliance=compliance,
        met=None if compliance is None else compliance >= target,
    )


async def _judge(collection: Any, pipeline: list[dict[str, Any]]) -> tuple[int, int]:
    rows = [row async for row in await collection.aggregate(pipeline)]
    return (rows[0]["measured"], rows[0]["within"]) if rows else (0, 0)


def _tally(late: dict[str, Any], on_time: dict[str, Any]) -> list[dict[str, Any]]:
    """Count the documents judged (`late` or `on_time`) and those on time."""
    return [
        {"$match": {"$expr": {"$or": [late, on_time]}}},
        {
            "$group": {
                "_id": None,
                "measured": {"$sum": 1},
                "within": {"$sum": {"$cond": [on_time, 1, 0]}},
            }
        },
    ]


async def confirmations(start: datetime, end: datetime, now: datetime) -> Objective:
    states: list[JobState] = ["scheduled", "promoted", "running", "succeeded", "retry_wait", "dead"]
    limit = CONFIRMATION_WITHIN.total_seconds() * 1000
    on_time = {
        "$and": [
            {"$eq": ["$state", "succeeded"]},
            {"$lte": [{"$subtract": ["$finished_at", "$created_at"]}, limit]},
        ]
    }
    late = {
        "$or": [
            {"$gt": [{"$subtract": [{"$ifNull": ["$finished_at", now]}, "$created_at"]}, limit]},
            {"$eq": ["$state", "dead"]},
        ]
    }
    measured, within = await _judge(
        Job.get_pymongo_collection(),
        [
            {
                "$match": {
                    "state": {"$in": states},
                    "run_at": {"$gte": start, "$lt": end},
                    "kind": CONFIRMATION_KIND,
                }
            },
            *_tally(late, on_time),
        ],
    )
    return _objective(
        "confirmation_within_60s",
        "A booking's confirmation is delivered within 60 s.",
        0.99,
        measured,
        within,
    )


async def offers(start: datetime, end: datetime, now: datetime) -> Objective:
    limit = OFFER_WITHIN.total_seconds() * 1000
    on_time = {
        "$and": [
            {"$ne": [{"$ifNull": ["$first_offer_at", None]}, None]},
            {"$lte": [{"$subtract": ["$first_offer_at", "$freed_at"]}, limit]},
        ]
    }
    late = {"$gt": [{"$subtract": [{"$ifNull": ["$first_offer_at", now]}, "$freed_at"]}, limit]}
    # A chain that ended with no offer (nobody waiting) is not judged: it is not open any more.
    unoffered_but_closed = {
        "$and": [
            {"$eq": [{"$ifNull": ["$first_offer_at", None]}, None]},
            {"$ne": ["$status", "open"]},
        ]
    }
    measured, within = await _judge(
        Opening.get_pymongo_collection(),
        [
            {"$match": {"freed_at": {"$gte": start, "$lt": end}}},
            {"$match": {"$expr": {"$not": [unoffered_but_closed]}}},
            *_tally(late, on_time),
        ],
    )
    return _objective(
        "waitlist_offer_within_1s",
        "A freed slot's first waitlist offer is made within 1 s of the cancellation.",
        0.99,
        measured,
        within,
    )


def booking_latency(attempts: Attempts) -> Objective:
    return _objective(
        "booking_p95_under_300ms",
        "Bookings are answered in under 300 ms at the 95th percentile.",
        0.95,
        attempts.attempts,
        attempts.within_300ms,
    )


async def objectives(
    start: datetime, end: datetime, now: datetime, attempts: Attempts
) -> list[Objective]:
    return [
        await confirmations(start, end, now),
        await offers(start, end, now),
        booking_latency(attempts),
    ]
