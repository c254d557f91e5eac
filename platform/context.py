"""The one typed wiring path shared by the API, the CLI, the promoter and the workers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from holdfast.clock import Clock, system_clock
from holdfast.db import Database, Mongo, connect, init_models
from holdfast.settings import Settings
from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    mongo: Mongo
    db: Database
    queue_redis: Redis
    cache_redis: Redis | None
    clock: Clock = system_clock
    indexes_ready: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> datetime:
        return self.clock()


def _redis(url: str, settings: Settings) -> Redis:
    timeout = settings.mongo_timeout_ms / 1000
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


async def open_context(settings: Settings, clock: Clock = system_clock) -> Context:
    mongo = connect(settings)
    database = mongo.get_database(settings.mongo_database)
    await init_models(database)
    return Context(
        settings=settings,
        mongo=mongo,
        db=database,
        queue_redis=_redis(settings.queue_redis_url, settings),
        cache_redis=_redis(settings.cache_redis_url, settings)
        if settings.cache_redis_url
        else None,
        clock=clock,
    )


async def close_context(ctx: Context) -> None:
    await ctx.queue_redis.aclose()
    if ctx.cache_redis is not None:
        await ctx.cache_redis.aclose()
    await ctx.mongo.close()
