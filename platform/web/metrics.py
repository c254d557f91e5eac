"""Request metrics for Prometheus: count and latency by route template and status; and who
may read them."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import json
import time
from datetime import timedelta
from typing import Any

from holdfast.context import Context
from holdfast.errors import Forbidden
from holdfast.jobs.models import Heartbeat
from holdfast.jobs.status import backlog_counts
from holdfast.monitoring.gauges import refresh_monitoring_gauges
from holdfast.monitoring.traffic import BOOKING_ROUTE, Traffic
from holdfast.settings import Settings
from holdfast.waitlist.metrics import refresh_waitlist_gauges
from holdfast.web.ratelimit import client_address
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(allowed: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False) for entry in allowed.split(",") if entry
    )


def _from_allowed_address(scope: Scope, settings: Settings) -> bool:
    headers = {name.lower() for name, _ in scope.get("headers", [])}
    if not settings.trusted_proxies and headers & {b"x-forwarded-for", b"forwarded"}:
        # A proxy on this host forwarded it: the peer looks local but the client is not.
        return False
    try:
        address = ipaddress.ip_address(client_address(scope))
    except ValueError:
        return False
    return any(address in network for network in _networks(settings.metrics_allow))


def _bears_token(scope: Scope, settings: Settings) -> bool:
    if settings.metrics_token is None or not settings.metrics_token.get_secret_value():
        return False
    headers = dict(scope.get("headers", []))
    given = headers.get(b"authorization", b"").decode("latin-1")
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    return hmac.compare_digest(given.encode(), expected.encode())


def require_scraper(scope: Scope, settings: Settings) -> None:
    """/metrics shows process names, login counts and the backlog: Prometheus only, by its
    token (`HOLDFAST_METRICS_TOKEN`) or from an allowed address (`HOLDFAST_METRICS_ALLOW`)."""
    if not (_bears_token(scope, settings) or _from_allowed_address(scope, settings)):
        raise Forbidden(
            "Metrics are for the monitoring system: send its bearer token "
            "(HOLDFAST_METRICS_TOKEN) or scrape from an address in HOLDFAST_METRICS_ALLOW.",
            code="metrics_forbidden",
        )


async def refresh_job_gauges(ctx: Context) -> None:
    """Backlog figures are read from MongoDB at scrape time, so every API replica agrees."""
    try:
        window = timedelta(seconds=ctx.settings.promoter_window_seconds)
        for measure, value in (await backlog_counts(ctx.now(), window)).items():
            JOBS.labels(measure).set(value)
        async for beat in Heartbeat.find({"kind": "promoter"}):
            PROMOTED.labels(beat.id).set(float(beat.data.get("promoted_total", 0)))
        await refresh_waitlist_gauges()
        await refresh_monitoring_gauges(ctx, ctx.now())
    except ConnectionFailure:
        pass  # /metrics still answers with what the process knows


class RequestMetrics(ASGIMiddleware):
    """Every answered request: Prometheus' count and latency, and the process's `Traffic` tally.
    Only a booking attempt's bodies are looked at (for the funnel); any other request passes its
    `receive` through untouched."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = 500
        booking = _booking(scope)  # routed already: the middleware runs in the route's stack
        # A booking attempt's request (its service, for the funnel) and, when refused, the
        # answer (its error code); read after the answer went, off the client's wait.
        asked, refusal = bytearray(), bytearray()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif booking and status >= 400:
                refusal.extend(_body(message))
            await send(message)

        async def record_request() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.request":
                asked.extend(_body(message))
            return message

        try:
            await next_app(scope, record_request if booking else receive, record_status)
        finally:
            elapsed = time.perf_counter() - started
            method, route = str(scope.get("method", "")), _route(scope)
            count, latency = _series(method, route, status)
            count.inc()
            latency.observe(elapsed)
            ctx: Context | None = getattr(scope["app"].state, "ctx", None)
            traffic: Traffic | None = getattr(scope["app"].state, "traffic", None)
            if ctx is not None and traffic is not None:
                code = _field(bytes(refusal), "error") if refusal else None
                service = _field(bytes(asked), "service_id") if asked else None
                traffic.observe(ctx.now(), method, route, status, elapsed, code, service)


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request's count and latency series, looked up once per route and status (their
    number is bounded: the route is a template, or "unmatched")."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


def _body(message: Any) -> bytes:
    body = message.get("body", b"")
    return body[:4096] if isinstance(body, bytes) else b""


def _field(body: bytes, name: str) -> str | None:
    """A short string field of a JSON object, if the body is one and has it."""
    try:
        found = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        return None
    value = found.get(name) if isinstance(found, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def _booking(scope: Any) -> bool:
    """A booking attempt (known once routed): only its bodies are looked at."""
    return (scope.get("method"), scope.get("path_template")) == BOOKING_ROUTE


def _route(scope: Any) -> str:
    """The matched route's whole path template ("/api/bookings/{booking_id:str}"): a handler's
    own `paths` are relative to its controller ("/" for several of them)."""
    template = scope.get("path_template")
    if isinstance(template, str) and template:
        return template
    return "unmatched"
