from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document
from pymongo import ASCENDING, IndexModel

JobState = Literal[
    "scheduled", "promoted", "running", "succeeded", "retry_wait", "dead", "cancelled"
]
# Waiting for the promoter: not yet handed to the queue Redis.
WAITING: tuple[JobState, ...] = ("scheduled", "retry_wait")
# Still going to run some day; cancelling the subject stops these.
PENDING: tuple[JobState, ...] = ("scheduled", "retry_wait", "promoted")


class Job(Document):
    """One unit of work. `_id` is deterministic (kind, subject, intended instant), so
    scheduling the same work twice finds the job already there."""

    id: str  # type: ignore[assignment]
    kind: str
    subject: str
    payload: dict[str, Any] = {}
    run_at: datetime
    state: JobState = "scheduled"
    attempts: int = 0
    # Of those, the tries that were postponed (the job had to wait, see `Postpone`): they are not
    # failures, so they count neither towards the kind's `max_attempts` nor its backoff.
    postponed: int = 0
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None = None
    started_at: datetime | None = None
    # While running: after this instant the worker is presumed dead and the job runs again.
    # The worker renews it while the handler runs, and stops the handler if it cannot.
    lease_until: datetime | None = None
    # Which claim holds the job: renewals and the outcome are written only by that claim.
    claim_token: str | None = None
    # When a worker that does not know this kind first handed it back (a rolling deploy).
    unknown_kind_since: datetime | None = None
    finished_at: datetime | None = None

    class Settings:
        name = "jobs"
        indexes = [
            IndexModel([("state", ASCENDING), ("run_at", ASCENDING)], name="state_run_at"),
            IndexModel([("subject", ASCENDING)], name="subject"),
        ]


class Heartbeat(Document):
    """A process's last sign of life, kept in MongoDB so health survives a dead queue Redis."""

    id: str  # type: ignore[assignment]
    kind: str  # "promoter"
    at: datetime
    data: dict[str, Any] = {}

    class Settings:
        name = "heartbeats"
