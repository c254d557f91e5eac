"""`holdfast worker`: an arq worker whose one function runs a MongoDB job by id.

The job's record decides everything (whether it still runs, how often it was tried, when it
retries), so arq's own retries and results are not used: `keep_result=0` also lets a later
attempt reuse nothing arq would refuse.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict, cast

from arq.connections import RedisSettings
from arq.worker import Worker, func
from holdfast.context import Context, close_context, open_context
from holdfast.db import ensure_indexes
from holdfast.jobs.handoff import RUN_JOB
from holdfast.jobs.registry import Registry, default_registry
from holdfast.jobs.runner import Outcome, run_job
from holdfast.logs import configure_logging
from holdfast.settings import Settings


class WorkerContext(TypedDict):
    holdfast: Context
    registry: Registry


async def execute(ctx: dict[str, Any], job_id: str) -> Outcome:
    typed = cast(WorkerContext, ctx)
    return await run_job(typed["holdfast"], job_id, typed["registry"])


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        holdfast = await open_context(settings)
        await ensure_indexes(holdfast.db)
        ctx.update(WorkerContext(holdfast=holdfast, registry=default_registry(settings)))

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "holdfast" in ctx:
            await close_context(cast(WorkerContext, ctx)["holdfast"])

    redis = RedisSettings.from_dsn(settings.queue_redis_url)
    redis.conn_retries, redis.conn_retry_delay = 30, 1
    return Worker(
        functions=[func(execute, name=RUN_JOB, max_tries=20)],
        redis_settings=redis,
        on_startup=startup,
        on_shutdown=shutdown,
        keep_result=0,
        job_timeout=settings.job_timeout_seconds + 10,
        max_jobs=20,
        poll_delay=settings.worker_poll_seconds,
        health_check_interval=10,
        handle_signals=True,
        burst=burst,
    )


def main(settings: Settings) -> int:
    configure_logging()
    asyncio.set_event_loop(asyncio.new_event_loop())
    build_worker(settings).run()
    return 0
