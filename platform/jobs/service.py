"""Scheduling and cancelling jobs inside business transactions; reading and retrying them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.db import Session
from holdfast.errors import DomainError, ErrorKind, Invalid, NotFound
from holdfast.events import Event
from holdfast.jobs.handoff import push_after_commit
from holdfast.jobs.models import PENDING, Job, JobState
from holdfast.jobs.runner import run_here
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo import ReturnDocument, UpdateOne


class JobNotRetryable(DomainError):
    kind, code = ErrorKind.CONFLICT, "job_not_retryable"


def job_id(kind: str, subject: str, intended: datetime) -> str:
    """Deterministic: the same work for the same subject and instant is one job."""
    return f"{kind}:{subject}:{as_utc(intended).strftime('%Y%m%dT%H%M%SZ')}"


def new_job(
    *,
    kind: str,
    subject: str,
    run_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    intended: datetime | None = None,
) -> Job:
    """The job for this work, not yet written: its id is the same whenever it is made."""
    return Job(
        id=job_id(kind, subject, intended or run_at),
        kind=kind,
        subject=subject,
        payload=payload or {},
        run_at=run_at,
        created_at=now,
        updated_at=now,
    )


async def schedule(
    session: Session | None,
    *,
    kind: str,
    subject: str,
    run_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    intended: datetime | None = None,
) -> Job:
    """Write the job (once) in the caller's transaction; a second call returns the first job."""
    job = new_job(
        kind=kind, subject=subject, run_at=run_at, now=now, payload=payload, intended=intended
    )
    return (await schedule_all(session, [job]))[0]


async def schedule_all(
    session: Session | None, jobs: list[Job], handed_over_at: datetime | None = None
) -> list[Job]:
    """Write each job once, in one round trip in the caller's transaction; a job already
    there is returned as first stored (read back only then, which a booking's own new jobs
    never need).

    `handed_over_at`: the caller pushes what is due at that instant right after its commit
    (`push_due`), so those jobs are written as promoted already, and the push writes nothing
    more to MongoDB. One the push never reaches the queue (Redis down, the process died) is
    found by the promoter's repair, which puts it back in the backlog (see `handoff.repair`).
    """
    if handed_over_at is not None:
        jobs = [
            job.model_copy(update={"state": "promoted", "promoted_at": handed_over_at})
            if job.run_at <= handed_over_at
            else job
            for job in jobs
        ]
    collection = Job.get_pymongo_collection()
    written = await collection.bulk_write(
        [
            UpdateOne(
                {"_id": job.id},
                {"$setOnInsert": job.model_dump(by_alias=True, exclude={"id"})},
                upsert=True,
            )
            for job in jobs
        ],
        session=session,
    )
    new = set((written.upserted_ids or {}).values())
    if len(new) == len(jobs):
        return jobs
    earlier = [job.id for job in jobs if job.id not in new]
    stored = {
        doc["_id"]: Job.model_validate(doc)
        async for doc in collection.find({"_id": {"$in": earlier}}, session=session)
    }
    return [job if job.id in new else stored[job.id] for job in jobs]


async def cancel_pending(session: Session | None, *, subject: str, now: datetime) -> int:
    """Stop every job of the subject that has not run yet (in the caller's transaction)."""
    result = await Job.get_pymongo_collection().update_many(
        {"subject": subject, "state": {"$in": list(PENDING)}},
        {"$set": {"state": "cancelled", "updated_at": now, "finished_at": now}},
        session=session,
    )
    return result.modified_count


async def list_jobs(state: str | None, page: PageRequest) -> Page[Job]:
    """Jobs, the most recently changed first (one that changes while being paged through moves
    to the front: it is not shown twice)."""
    if state is not None and state not in JobState.__args__:  # type: ignore[attr-defined]
        raise Invalid(f"'{state}' is not a job state.", code="invalid_state")
    where = {"state": state} if state else {}
    segment = Segment(where, (("updated_at", -1), ("_id", 1)))
    return await read_page(Job, [segment], page, listing=f"jobs:{state!r}")


async def retry_job(job_id_: str, now: datetime) -> Job:
    """Give a dead (or cancelled) job a fresh set of attempts, due now."""
    updated = await Job.get_pymongo_collection().find_one_and_update(
        {"_id": job_id_, "state": {"$in": ["dead", "cancelled"]}},
        {
            "$set": {
                "state": "scheduled",
                "run_at": now,
                "attempts": 0,
                "unknown_kind_since": None,
                "updated_at": now,
            },
            "$unset": {"finished_at": "", "lease_until": ""},
        },
        return_document=ReturnDocument.AFTER,
    )
    if updated is not None:
        retried: Job = Job.model_validate(updated)
        return retried
    found = await Job.get(job_id_)  # only to say why not
    if found is None:
        raise NotFound(f"There is no job with id {job_id_}.", code="job_not_found")
    raise JobNotRetryable(
        f"Job {job_id_} is {found.state}; only dead or cancelled jobs are retried."
    )


# A worker runs at most this many of the jobs one handler wrote itself; the rest go to the
# queue, for every worker to share.
RUN_HERE_AT_MOST = 8


def push_due(ctx: Context, jobs: list[Job]) -> None:
    """After a business commit, hand what is due now on in the background, so it runs within
    milliseconds; the promoter is the safety net.

    The API hands them to the queue. A worker (`ctx.runs_jobs`) runs the jobs its handler just
    wrote itself, at once, with no trip through the queue and its poll: an offer's message goes
    out right after the offer's commit. They are claimed like any other job, so an arq delivery
    or another worker that got there first wins, and a worker that dies before or during one
    leaves it to the promoter (still due in MongoDB) or to its lease (see `runner`)."""
    now = ctx.now()
    due = [job for job in jobs if job.run_at <= now]
    here = due[:RUN_HERE_AT_MOST] if ctx.runs_jobs is not None else []
    for job in here:
        ctx.later(run_here(ctx, job.id))
    if len(due) > len(here):
        ctx.later(push_after_commit(ctx.queue_redis, due[len(here) :], now))


async def hand_off_now(ctx: Context, job: Job) -> None:
    """Queue a job that is due now without waiting for the promoter (best effort)."""
    await push_after_commit(ctx.queue_redis, [job], ctx.now())
    await ctx.events.publish(Event("job-updated", {"job_id": job.id}))
