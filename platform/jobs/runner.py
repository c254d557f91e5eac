"""Running one job: claim it in MongoDB, run its handler while holding its lease, record the
outcome.

Retries are decided here, in MongoDB (retry_wait with a backed-off run_at, or dead), not by arq:
the queue Redis may lose everything at any moment, the backlog may not.

A claim takes only a job that is due, so a late or repeated arq delivery cannot cut a retry's
backoff short. The claim is a lease, renewed every quarter of its length while the handler
runs: a long job keeps it however long it runs, and another machine whose clock is ahead by
less than three quarters of the lease never sees it lapse. A worker that cannot renew in time
(MongoDB unreachable, or another worker took the job) stops its handler before the lease it
last wrote ends, so two workers never run one job at once.

The runner's own bookkeeping (the claim, its renewals and the outcome) is written with `w: 1`,
not the majority and journal every other write waits for (see `holdfast.db.connect`): such a
write may be lost if the primary dies within moments of it, and losing it only makes the job run
again, which every job tolerates already (a worker can die between its effect and its outcome;
invariant I3). What a handler does is written durably as usual, and a durable write after a
bookkeeping one makes that one durable too (one oplog, one journal). Each of them used to wait
for a journal flush of its own, and those flushes competed with the bookings' commits while a
worker delivered every confirmation beside the API (see bench/README.md).

They are sent as plain commands, not as the driver's retryable writes: a retryable write also
records the session's latest write on the primary (and a findAndModify its result), which
made each of these cost the primary more CPU (390-510 against 160-330 µs, measured on
one machine). The driver's one retry is not needed either: the claim carries its own token, and
every other bookkeeping write is conditional on that claim and applies once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.db import unavailable
from holdfast.events import Event
from holdfast.jobs.models import PENDING, Job
from holdfast.jobs.registry import JobKind, Postpone, Registry, RetryLater
from pymongo.errors import OperationFailure, PyMongoError, WriteConcernError

log = structlog.get_logger(__name__)
# returned: this worker does not know the job's kind and handed it back to the backlog.
Outcome = Literal["succeeded", "retry_wait", "dead", "returned", "skipped", "postponed"]

# A worker that does not know a kind (an old one, during a rolling deploy) hands the job back
# after this pause, for the promoter to queue again; a deploy is over well within the grace,
# after which the job is dead with the reason (an admin can retry it).
UNKNOWN_KIND_PAUSE = timedelta(seconds=30)
UNKNOWN_KIND_GRACE = timedelta(hours=1)


async def _bookkeeping(command: str, body: dict[str, Any]) -> dict[str, Any]:
    """One of the runner's writes to the jobs collection: a plain command, acknowledged by the
    primary alone (see the module's docstring). Raises what the write ran into."""
    collection = Job.get_pymongo_collection()
    reply: dict[str, Any] = await collection.database.command(
        {command: collection.name, **body, "writeConcern": {"w": 1}},
        codec_options=collection.codec_options,
    )
    # A write's own errors come back in a reply that is ok: a plain command does not raise them.
    if errors := reply.get("writeErrors"):
        raise OperationFailure(errors[0].get("errmsg", ""), errors[0].get("code"), reply)
    if concern := reply.get("writeConcernError"):  # applied, but the primary is going away
        raise WriteConcernError(concern.get("errmsg", ""), concern.get("code"), reply)
    return reply


async def _update(where: dict[str, Any], change: dict[str, Any]) -> tuple[int, int]:
    """Update the one job `where` names; how many matched, and how many changed."""
    reply = await _bookkeeping("update", {"updates": [{"q": where, "u": change}]})
    return int(reply.get("n", 0)), int(reply.get("nModified", 0))


def _due(now: datetime) -> dict[str, Any]:
    """Runnable at `now`: waiting and due, or running under a lease that has lapsed."""
    return {
        "$or": [
            {"state": {"$in": list(PENDING)}, "run_at": {"$lte": now}},
            {"state": "running", "lease_until": {"$lt": now}},
        ]
    }


async def claim(job_id: str, now: datetime, lease: timedelta) -> Job | None:
    """Take the job for this worker, or None if it is not runnable now (not due, done,
    cancelled, or held by a live worker).

    MongoDB may apply the claim and lose its answer (an election: the driver's one retry comes
    too soon). Asking again is then safe, because the claim carries this attempt's own token:
    whoever holds the job with that token is this worker. Otherwise the job would sit `running`
    under a claim nobody knows of until its lease ran out."""
    token = secrets.token_hex(8)
    deadline, delay = time.monotonic() + lease.total_seconds() / 2, 0.1
    while True:
        try:
            reply = await _bookkeeping(
                "findAndModify",
                {
                    "query": {"_id": job_id, **_due(now)},
                    "update": {
                        "$set": {
                            "state": "running",
                            "started_at": now,
                            "lease_until": now + lease,
                            "claim_token": token,
                            "updated_at": now,
                        },
                        "$inc": {"attempts": 1},
                    },
                    "new": True,
                },
            )
            claimed = reply.get("value")
            if claimed is None:  # not runnable; or taken by the answer this worker lost
                collection = Job.get_pymongo_collection()
                claimed = await collection.find_one({"_id": job_id, "claim_token": token})
            return None if claimed is None else Job.model_validate(claimed)
        except PyMongoError as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def _held(job: Job) -> dict[str, Any]:
    return {"_id": job.id, "state": "running", "claim_token": job.claim_token}


async def _finish(job: Job, now: datetime, changes: dict[str, object]) -> None:
    """Record this claim's outcome, while the lease is still ours.

    MongoDB may be out of reach for a moment (an election, often the very reason the job
    failed): giving up would leave the job `running` until its lease ran out, as if this worker
    had died, so the write is tried again until it lands or the lease is over."""
    patience = (as_utc(job.lease_until or now) - now).total_seconds()
    deadline, delay, tried = time.monotonic() + patience, 0.1, False
    while True:
        try:
            # Conditional on this claim: a worker that lost its lease must not overwrite a
            # newer one.
            matched, _ = await _update(
                _held(job),
                {
                    # A kind some worker knew at last: no longer waiting for one that does.
                    "$set": {**changes, "unknown_kind_since": None, "updated_at": now},
                    "$unset": {"lease_until": ""},
                },
            )
            if not matched and not (tried and await _ended(job)):
                # Another worker's claim holds it now, or this claim was lost with a primary
                # that died before a secondary had it: either way the job runs again.
                log.warning("jobs.outcome_not_recorded", job=job.id, outcome=changes.get("state"))
            return
        except PyMongoError as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            tried = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _ended(job: Job) -> bool:
    """Whether this claim's outcome is recorded already: a try whose answer was lost may have
    written it (these writes are not retried by the driver, which would know)."""
    ended = {"_id": job.id, "claim_token": job.claim_token, "state": {"$ne": "running"}}
    return bool(await Job.get_pymongo_collection().count_documents(ended, limit=1))


async def _keep_lease(ctx: Context, job: Job, lease: timedelta, work: asyncio.Task[Any]) -> bool:
    """Renew the job's lease while `work` runs. Stops `work` and returns True once the lease is
    lost: another claim holds the job, or no renewal got through a quarter before the lease
    this worker last wrote would end (from then on another worker may take it)."""
    interval = lease / 4
    stop_at = as_utc(job.lease_until or ctx.now()) - interval
    while not work.done():
        await asyncio.sleep(interval.total_seconds())
        now = ctx.now()
        try:
            renewed, _ = await _update(_held(job), {"$set": {"lease_until": now + lease}})
        except PyMongoError as exc:
            log.warning("jobs.lease_not_renewed", job=job.id, error=str(exc)[:200])
            if ctx.now() < stop_at:
                continue
        else:
            if renewed:
                stop_at = now + lease - interval
                continue
        work.cancel()
        return True
    return False


async def _run_held(ctx: Context, kind: JobKind, job: Job, lease: timedelta) -> bool:
    """Run the handler while holding the lease; False if the lease was lost and the handler
    stopped (this worker then records nothing)."""
    work = asyncio.ensure_future(
        asyncio.wait_for(kind.handler(ctx, job), kind.timeout.total_seconds())
    )
    keeper = asyncio.create_task(_keep_lease(ctx, job, lease, work))
    try:
        await work
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if keeper.done() and keeper.result() and not (task and task.cancelling()):
            log.warning("jobs.lease_lost", job=job.id, attempts=job.attempts)
            return False
        raise
    finally:
        keeper.cancel()
    return True


async def run_job(ctx: Context, job_id: str, registry: Registry) -> Outcome:
    outcome = await _run(ctx, job_id, registry)
    if outcome != "skipped":
        await ctx.events.publish(Event("job-updated", {"job_id": job_id}))
    return outcome


async def run_here(ctx: Context, job_id: str) -> None:
    """Run, in this worker and now, a job its own handler just committed (see
    `holdfast.jobs.service.push_due`). A failure to claim or record is logged, not raised: the
    job is still in MongoDB, due, and the promoter hands it to the queue."""
    if ctx.runs_jobs is None:
        raise RuntimeError("only a worker runs jobs where they were written")
    try:
        await run_job(ctx, job_id, ctx.runs_jobs)
    except Exception as exc:
        log.warning("jobs.run_here_failed", job=job_id, error=str(exc)[:200])


async def _run(ctx: Context, job_id: str, registry: Registry) -> Outcome:
    """Claim first, then look at the kind: the claim's answer is the job, so the usual run costs
    no separate read of it (this runs for every confirmation, beside the API's requests)."""
    now = ctx.now()
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)
    claimed = await claim(job_id, now, lease)
    if claimed is None:
        if not await Job.get_pymongo_collection().count_documents({"_id": job_id}, limit=1):
            log.error("jobs.missing", job=job_id)
        return "skipped"
    kind = registry.get(claimed.kind)
    if kind is None:
        return await _hand_back(claimed, now)
    try:
        if not await _run_held(ctx, kind, claimed, lease):
            return "skipped"  # another worker holds the job now
    except Postpone as later:
        # Back to the backlog, due then, with no error. `attempts` still grows (it names the
        # next hand-off to arq, which refuses a name it has used); `postponed` says this try
        # was no failure.
        changes = {"state": "scheduled", "run_at": later.until, "postponed": claimed.postponed + 1}
        await _finish(claimed, ctx.now(), changes)
        return "postponed"
    except Exception as exc:
        return await _failed(ctx, kind, claimed, exc)
    await _finish(
        claimed, ctx.now(), {"state": "succeeded", "finished_at": ctx.now(), "last_error": None}
    )
    return "succeeded"


async def _failed(ctx: Context, kind: JobKind, job: Job, exc: Exception) -> Outcome:
    now = ctx.now()
    error = f"{type(exc).__name__}: {exc}"[:500]
    tries = job.attempts - job.postponed  # the ones that failed, this one included
    if tries >= kind.max_attempts:
        await _finish(job, now, {"state": "dead", "finished_at": now, "last_error": error})
        log.error("jobs.dead", job=job.id, attempts=job.attempts, error=error)
        return "dead"
    # A service that said when to come back (Retry-After) is not asked again sooner.
    asked = exc.after if isinstance(exc, RetryLater) else timedelta(0)
    run_at = now + max(kind.backoff(tries), asked)
    await _finish(job, now, {"state": "retry_wait", "run_at": run_at, "last_error": error})
    log.warning(
        "jobs.retry", job=job.id, attempts=job.attempts, run_at=run_at.isoformat(), error=error
    )
    return "retry_wait"


async def _hand_back(job: Job, now: datetime) -> Outcome:
    """This worker claimed a job whose kind it does not know (an old worker during a rolling
    deploy): it returns the job to the backlog for the promoter to queue again, for a worker that
    does, without counting an attempt; dead with the reason once that has gone on too long. Left
    as it was, the job would stay promoted and be re-queued by every repair, forever."""
    since = as_utc(job.unknown_kind_since) if job.unknown_kind_since else now
    reason = f"No worker that took this job knows its kind '{job.kind}'"
    if now - since >= UNKNOWN_KIND_GRACE:
        changes: dict[str, Any] = {
            "state": "dead",
            "finished_at": now,
            "last_error": f"{reason} (for over {UNKNOWN_KIND_GRACE}).",
        }
    else:
        changes = {
            "state": "scheduled",
            "run_at": now + UNKNOWN_KIND_PAUSE,
            "unknown_kind_since": since,
            "last_error": f"{reason}; it is queued again for one that does.",
        }
    # Conditional on this claim, like any outcome.
    _, modified = await _update(
        _held(job),
        {
            "$set": {**changes, "updated_at": now},
            "$unset": {"lease_until": ""},
            "$inc": {"attempts": -1},
        },
    )
    if not modified:
        return "skipped"
    log.error("jobs.unknown_kind", job=job.id, kind=job.kind, state=changes["state"])
    return "dead" if changes["state"] == "dead" else "returned"
