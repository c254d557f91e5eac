"""The one typed wiring path shared by the API, the CLI, the promoter and the workers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from arq.connections import ArqRedis
from holdfast import runtime
from holdfast.accounts.passwords import Passwords
from holdfast.cache.rules import load_rules
from holdfast.cache.store import ResponseCache
from holdfast.catalog.snapshots import CatalogSnapshots
from holdfast.clock import Clock, system_clock
from holdfast.db import Database, Indexes, Mongo, connect, init_models
from holdfast.events import EventBus
from holdfast.integrations.google.connected import connected_calendars
from holdfast.jobs.registry import Registry
from holdfast.notifications.smtp import SmtpPool
from holdfast.ratelimits import Limiter
from holdfast.settings import Settings
from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    mongo: Mongo
    db: Database
    queue_redis: ArqRedis
    cache_redis: Redis | None
    limiter: Limiter
    catalog: CatalogSnapshots
    # Which MongoDB indexes exist yet: writes that need a unique one are refused until it does.
    indexes: Indexes
    clock: Clock = system_clock
    events: EventBus = field(default_factory=EventBus)
    cache: ResponseCache | None = None
    passwords: Passwords = field(default_factory=Passwords)  # argon2, in bounded lanes
    # Work started after a response (e.g. pushing due jobs); held so it is not garbage-collected.
    background: set[asyncio.Task[None]] = field(default_factory=set)
    # SMTP connections kept open between messages (connected on first use); None without
    # HOLDFAST_SMTP_URL, when messages go to the outbox.
    smtp: SmtpPool | None = None
    # A worker: the job kinds it runs. Jobs its handlers write that are due at once run in the
    # worker itself right after their commit (see `holdfast.jobs.service.push_due`); None in
    # the API and the promoter, which hand them to the queue.
    runs_jobs: Registry | None = None

    def now(self) -> datetime:
        return self.clock()

    @property
    def indexes_ready(self) -> asyncio.Event:
        """Set once every declared index exists."""
        return self.indexes.ready

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def _cache(url: str, settings: Settings) -> Redis:
    # Tight timeouts: a slow cache is worse than none, and the breaker takes over.
    timeout = settings.cache_timeout_ms / 1000
    redis: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return redis


def _queue(url: str, settings: Settings) -> ArqRedis:
    timeout = settings.mongo_timeout_ms / 1000
    queue: ArqRedis = ArqRedis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return queue


def _smtp(settings: Settings) -> SmtpPool | None:
    if not settings.smtp_url:
        return None
    host = urlsplit(settings.public_url).hostname or "holdfast"
    return SmtpPool(settings.smtp_url, local_hostname=host, timeout=settings.send_timeout_seconds)


async def open_context(
    settings: Settings,
    clock: Clock = system_clock,
    *,
    runs_jobs: Registry | None = None,
    patience: float = 0.0,
) -> Context:
    """Everything a process needs. `patience`: how long to wait for a primary at start (see
    `holdfast.db.init_models`); the long-running processes wait, a command does not."""
    mongo = connect(settings)
    database = mongo.get_database(settings.mongo_database)
    await init_models(database, patience=patience)
    cache_redis = _cache(settings.cache_redis_url, settings) if settings.cache_redis_url else None
    cache = (
        ResponseCache(cache_redis, load_rules(settings.cache_rules_file)) if cache_redis else None
    )
    ctx = Context(
        settings=settings,
        mongo=mongo,
        db=database,
        queue_redis=_queue(settings.queue_redis_url, settings),
        cache_redis=cache_redis,
        clock=clock,
        cache=cache,
        catalog=CatalogSnapshots(max_age=settings.catalog_snapshot_seconds),
        smtp=_smtp(settings),
        runs_jobs=runs_jobs,
        indexes=Indexes(database, retry_seconds=settings.index_retry_seconds),
        limiter=Limiter(
            cache_redis,
            requests=settings.rate_limit_requests,
            window=settings.rate_limit_window_seconds,
            login_failures=settings.login_failures_allowed,
            registrations=settings.registrations_per_hour,
        ),
    )
    ctx.events.subscribe(ctx.catalog.forget)
    connected_calendars.max_age = settings.catalog_snapshot_seconds
    if cache is not None:
        ctx.events.subscribe(cache.invalidate)
    runtime.freeze_startup_heap()
    return ctx


async def close_context(ctx: Context) -> None:
    runtime.unfreeze_heap()
    if ctx.background:
        await asyncio.wait(ctx.background, timeout=5)
    if ctx.smtp is not None:
        await ctx.smtp.close()
    await ctx.queue_redis.aclose()
    if ctx.cache_redis is not None:
        await ctx.cache_redis.aclose()
    await ctx.mongo.close()
