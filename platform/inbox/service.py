"""Webhook intake, the same for every sender: verify (the sender's module), store raw once,
acknowledge; the promoter's tick gives each stored delivery one durable job, and that job's
handler (the sender's domain, registered as job kind `inbox.<source>`) decides it.

A delivery is decided once: `settle` moves it from `received` by one conditional update, so a
job that runs twice (a retry, a second worker) finds it decided and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from beanie import Document
from holdfast.context import Context
from holdfast.inbox.models import Delivery, DeliveryStatus
from holdfast.jobs.models import Job
from holdfast.jobs.service import new_job, schedule_all
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError


def job_kind(source: str) -> str:
    """The job kind that processes a source's deliveries."""
    return f"inbox.{source}"


async def store(ctx: Context, *, source: str, key: str, kind: str, payload: dict[str, Any]) -> bool:
    """The whole acknowledgement: one insert of the raw delivery; a repeat (the sender retried,
    or sent it twice) hits the key and changes nothing. True if this call stored it."""
    delivery = {
        "_id": f"{source}:{key}",
        "source": source,
        "key": key,
        "kind": kind,
        "payload": payload,
        "received_at": ctx.now(),
        "status": "received",
        "reason": None,
        "result": {},
        "job_id": None,
        "processed_at": None,
    }
    with suppress(DuplicateKeyError):
        await Delivery.get_pymongo_collection().insert_one(delivery)
        return True
    return False


async def enqueue_received(ctx: Context, limit: int = 500) -> list[Job]:
    """Give every stored delivery its processing job (once: the job id is deterministic)."""
    return await give_jobs(ctx, Delivery, lambda d: job_kind(d.source), "inbox", limit)


class Received(Protocol):
    id: Any
    received_at: datetime


R = TypeVar("R", bound=Document)


async def give_jobs(
    ctx: Context, model: type[R], kind: Callable[[R], str], prefix: str, limit: int
) -> list[Job]:
    """The promoter's step for stored raw deliveries of `model` (this inbox's, Calendly's): each
    without a job gets one, of `kind(delivery)`, and is marked with it.

    Two round trips for the whole batch: the jobs (each written once, its id deterministic),
    then the marks. A promoter that stops between them leaves deliveries unmarked, and the
    next tick gives them the same jobs again. (Two journaled writes per delivery, one after
    the other, kept MongoDB busy for as long as a sender kept sending.)"""
    now = ctx.now()
    found = await model.find({"job_id": None}).sort("received_at").limit(limit).to_list()
    if not found:
        return []

    def job_for(delivery: R) -> Job:
        received = cast(Received, delivery)
        return new_job(
            kind=kind(delivery),
            subject=f"{prefix}:{received.id}",
            run_at=now,
            now=now,
            payload={"delivery_id": received.id},
            intended=received.received_at,
        )

    jobs = await schedule_all(None, [job_for(delivery) for delivery in found])
    await model.get_pymongo_collection().bulk_write(
        [
            UpdateOne({"_id": job.payload["delivery_id"]}, {"$set": {"job_id": job.id}})
            for job in jobs
        ],
        ordered=False,
    )
    return jobs


async def pending(job: Job) -> Delivery | None:
    """The delivery a processing job is for, while it is still undecided."""
    delivery = await Delivery.get(str(job.payload["delivery_id"]))
    return delivery if delivery is not None and delivery.status == "received" else None


async def settle(
    delivery: Delivery,
    status: DeliveryStatus,
    now: datetime,
    *,
    reason: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Decide the delivery, once: True if this call decided it (mark it last, after the work,
    and make that work safe to run again)."""
    changed = await Delivery.get_pymongo_collection().update_one(
        {"_id": delivery.id, "status": "received"},
        {
            "$set": {
                "status": status,
                "reason": reason,
                "result": result or {},
                "processed_at": now,
            }
        },
    )
    return changed.modified_count == 1


async def list_deliveries(
    page: PageRequest, *, source: str | None, status: str | None
) -> Page[Delivery]:
    """Deliveries, the most recently received first."""
    where: dict[str, Any] = {}
    if source:
        where["source"] = source
    if status:
        where["status"] = status
    segment = Segment(where, (("received_at", -1), ("_id", 1)))
    return await read_page(Delivery, [segment], page, listing=f"inbox:{(source, status)!r}")
