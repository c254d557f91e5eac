"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from holdfast.jobs.status import promoter_status
from holdfast.web.auth import Ctx
from holdfast.web.metrics import refresh_job_gauges, require_scraper
from holdfast.web.openapi import no_database
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis


async def _probe(check: Any, limit: float) -> str:
    try:
        await asyncio.wait_for(check, limit)
    except Exception:
        return "unavailable"
    return "ok"


async def _redis_state(client: Redis | None, limit: float) -> str:
    return "disabled" if client is None else await _probe(client.ping(), limit)


class HealthController(Controller):
    path = ""
    tags = ["health"]
    include_in_schema = True

    @get("/health/live", opt=no_database())
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/health/ready",
        responses={503: ResponseSpec(dict[str, str], description="MongoDB is unreachable.")},
    )
    async def ready(self, ctx: Ctx) -> Response[dict[str, Any]]:
        timeout = ctx.settings.mongo_timeout_ms / 1000
        mongo, queue, cache = await asyncio.gather(
            _probe(ctx.db.command("ping"), timeout),
            _redis_state(ctx.queue_redis, timeout),
            _redis_state(ctx.cache_redis, timeout),
        )
        body: dict[str, Any] = {"mongo": mongo, "queue_redis": queue, "cache_redis": cache}
        if mongo == "ok" and not ctx.indexes.ready.is_set():
            # Not ready while an index is missing; a failed one is named, with why (its writes
            # are refused meanwhile; the log has MongoDB's own words).
            body["mongo"] = "index_failed" if ctx.indexes.failed else "starting"
            body["indexes"] = ctx.indexes.status()
        if body["mongo"] == "ok":
            # Informational: the API serves bookings without a promoter; jobs then wait.
            body["promoter"] = await promoter_status(ctx.now())
        return Response(body, status_code=200 if body["mongo"] == "ok" else 503)

    @get("/metrics", media_type=CONTENT_TYPE_LATEST, opt=no_database())
    async def metrics(self, ctx: Ctx, request: Request[Any, Any, Any]) -> bytes:
        require_scraper(request.scope, ctx.settings)
        await refresh_job_gauges(ctx)
        return generate_latest()
