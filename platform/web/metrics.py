"""Request metrics for Prometheus: count and latency by route template and status."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from holdfast.context import Context
from holdfast.jobs.models import Heartbeat
from holdfast.jobs.status import backlog_counts
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram
from pymongo.errors import ConnectionFailure

REQUESTS = Counter("holdfast_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "holdfast_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


JOBS = Gauge("holdfast_jobs", "The durable job backlog", ["measure"])
PROMOTED = Gauge(
    "holdfast_jobs_promoted_total", "Jobs handed to the queue, per promoter", ["promoter"]
)


async def refresh_job_gauges(ctx: Context) -> None:
    """Backlog figures are read from MongoDB at scrape time, so every API replica agrees."""
    try:
        window = timedelta(seconds=ctx.settings.promoter_window_seconds)
        for measure, value in (await backlog_counts(ctx.now(), window)).items():
            JOBS.labels(measure).set(value)
        async for beat in Heartbeat.find({"kind": "promoter"}):
            PROMOTED.labels(beat.id).set(float(beat.data.get("promoted_total", 0)))
    except ConnectionFailure:
        pass  # /metrics still answers with what the process knows


class RequestMetrics(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await next_app(scope, receive, record_status)
        finally:
            route = _route(scope)
            method = str(scope.get("method", ""))
            elapsed = time.perf_counter() - started
            REQUESTS.labels(method, route, str(status["code"])).inc()
            LATENCY.labels(method, route).observe(elapsed)


def _route(scope: Any) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    return sorted(paths)[0] if paths else "unmatched"
