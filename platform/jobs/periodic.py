"""Periodic jobs: work that recurs (retention now; a series horizon, calendar sync or alert
evaluation later) as ordinary durable jobs, one per period.

A kind is periodic when it is registered with `every` (and optionally `at`, its offset into the
period). The promoter makes sure the next occurrence of each exists, with an id fixed by the kind
and the instant its period starts, so any number of promoters write it once; a worker runs it
like any job (claimed once, retried with backoff, dead after its attempts). Only the next
occurrence is ever written: a period that passed while no promoter ran is not replayed (each
periodic job does what is due as of when it runs), and an occurrence that retention pruned is
never written again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind, Registry
from holdfast.jobs.service import new_job, schedule_all

SUBJECT = "periodic"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def next_occurrence(every: timedelta, at: timedelta, now: datetime) -> datetime:
    """Pure: the first period start strictly after `now`. Periods are `every` long, counted from
    the Unix epoch plus `at`, so they fall on the same UTC instants on every machine."""
    origin = _EPOCH + at
    return origin + ((now - origin) // every + 1) * every


async def ensure_next(registry: Registry, now: datetime, written: dict[str, datetime]) -> list[Job]:
    """Write the next occurrence of every periodic kind, unless `written` (what this process
    wrote before) says it exists already; returns the jobs written now."""
    wanted = {
        kind.name: new_job(kind=kind.name, subject=SUBJECT, run_at=at, now=now)
        for kind in registry.periodic()
        if written.get(kind.name) != (at := _next(kind, now))
    }
    if not wanted:
        return []
    # One round trip for all of them (a promoter that just started writes every kind's).
    jobs = await schedule_all(None, list(wanted.values()))
    written.update({name: job.run_at for name, job in wanted.items()})
    return jobs


def _next(kind: JobKind, now: datetime) -> datetime:
    assert kind.every is not None
    return next_occurrence(kind.every, kind.at, now)
