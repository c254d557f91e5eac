"""`holdfast promoter`: a thin loop around the pure selection in `holdfast.jobs.handoff`.

Each tick makes sure the next occurrence of every periodic job exists, hands over the jobs due
within the window, and now and then (and always after the queue Redis comes back) repairs what
the queue lost. A queue Redis (or MongoDB) that is down is retried every few ticks while the
promoter keeps running and says so in its heartbeat and logs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from holdfast import runtime
from holdfast.calendly.service import enqueue_received
from holdfast.context import Context, close_context, open_context
from holdfast.db import STARTUP_PATIENCE_SECONDS, keep_ensuring_indexes, unavailable
from holdfast.events import Event
from holdfast.inbox import service as inbox
from holdfast.jobs.handoff import promote_due, repair
from holdfast.jobs.models import Heartbeat
from holdfast.jobs.periodic import ensure_next
from holdfast.jobs.registry import Registry, default_registry
from holdfast.logs import configure_logging
from holdfast.settings import Settings
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

log = structlog.get_logger("holdfast.promoter")
REPAIR_EVERY = 5  # ticks
PROMOTE_BATCH = 500
RETRY_DOUBLINGS = 2  # a store that is down is tried again every 2, then 4 ticks


@dataclass
class PromoterState:
    name: str = field(default_factory=lambda: f"promoter:{socket.gethostname()}:{os.getpid()}")
    promoted_total: int = 0
    repaired_total: int = 0
    ticks: int = 0
    queue_ok: bool = True
    failures: int = 0  # consecutive, for backoff
    # The next occurrence this process wrote for each periodic kind: written once per period.
    periodic: dict[str, datetime] = field(default_factory=dict)

    def retry_delay(self, tick: float) -> float:
        # A failed tick is cheap (a refused connection, a no-op in MongoDB), and jobs freed
        # during an outage wait for the first tick after it: backing off only a few ticks keeps
        # them within seconds of its end however long it lasted (a 30 s cap made them wait up
        # to 30 s more). Logs grow by one line per retry.
        return tick * float(2 ** min(self.failures, RETRY_DOUBLINGS))


async def tick(ctx: Context, state: PromoterState, now: datetime, registry: Registry) -> int:
    """One pass; returns how many jobs it handed over."""
    window = timedelta(seconds=ctx.settings.promoter_window_seconds)
    await ensure_next(registry, now, state.periodic)
    recovering = not state.queue_ok
    if recovering or state.ticks % REPAIR_EVERY == 0:
        # A queue Redis that was down may have come back empty: repair before promoting.
        state.repaired_total += await repair(ctx.queue_redis, now)
    # Verified webhook deliveries become jobs here, off the acknowledgement's hot path.
    await enqueue_received(ctx)
    await inbox.enqueue_received(ctx)
    promoted = await promote_due(ctx.queue_redis, now, window, limit=PROMOTE_BATCH)
    state.promoted_total += promoted
    if promoted:
        await ctx.events.publish(Event("job-updated"))
    if recovering:
        log.info("promoter.queue_redis_back")
    state.queue_ok, state.failures = True, 0
    return promoted


async def heartbeat(ctx: Context, state: PromoterState, now: datetime) -> None:
    data = {
        "queue_redis": "ok" if state.queue_ok else "unavailable",
        "promoted_total": state.promoted_total,
        "repaired_total": state.repaired_total,
    }
    await Heartbeat.get_pymongo_collection().update_one(
        {"_id": state.name}, {"$set": {"at": now, "data": data, "kind": "promoter"}}, upsert=True
    )


async def run(ctx: Context, stop: asyncio.Event) -> None:
    state = PromoterState()
    registry = default_registry(ctx.settings)
    period = ctx.settings.promoter_tick_seconds
    log.info("promoter.started", name=state.name, window_s=ctx.settings.promoter_window_seconds)
    while not stop.is_set():
        delay = period
        try:
            # A full batch means more is due: go again at once instead of waiting a tick.
            if await tick(ctx, state, ctx.now(), registry) >= PROMOTE_BATCH:
                delay = 0
        except (RedisError, OSError) as exc:
            state.queue_ok, state.failures = False, state.failures + 1
            delay = state.retry_delay(period)
            log.warning("promoter.queue_redis_unavailable", error=str(exc)[:200], retry_in_s=delay)
        except PyMongoError as exc:
            if not unavailable(exc):
                raise
            state.failures += 1
            delay = state.retry_delay(period)
            log.warning("promoter.mongo_unavailable", error=str(exc)[:200], retry_in_s=delay)
        state.ticks += 1
        try:
            await heartbeat(ctx, state, ctx.now())
        except PyMongoError as exc:
            if not unavailable(exc):
                raise
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass
    log.info("promoter.stopped", promoted_total=state.promoted_total)


async def serve(settings: Settings) -> None:
    ctx = await open_context(settings, patience=STARTUP_PATIENCE_SECONDS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    indexes = asyncio.create_task(keep_ensuring_indexes(ctx.indexes))
    try:
        await run(ctx, stop)
    finally:
        indexes.cancel()
        await close_context(ctx)


def main(settings: Settings) -> int:
    configure_logging()
    runtime.run_in_background(settings.background_nice)
    runtime.run(serve(settings))
    return 0
