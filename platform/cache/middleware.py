"""Serving GET responses from the cache Redis, as `cache_rules.yaml` says.

Only successful responses without Set-Cookie are stored. Per-user rules are served only to an
account that still holds the token's session (read from MongoDB, as for any authenticated
request: a logged-out, demoted or deleted account never gets a cached answer), keyed by the
account, its role and its session version; without one the request goes straight through to
the handler, which answers 401. Any trouble with the cache
Redis means the request is served from MongoDB as if there were no cache.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from holdfast.cache.rules import CacheRule, rule_for
from holdfast.cache.store import (
    CACHE_EVENTS,
    Cached,
    CacheUnavailable,
    Lookup,
    ResponseCache,
    as_headers,
    cached_from,
)
from holdfast.context import Context
from holdfast.web.auth import scope_user
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send


class Viewer(NamedTuple):
    """Who a per-user entry belongs to: the account as MongoDB has it right now."""

    user_id: str
    role: str
    session_version: int


async def plan(ctx: Context, rule: CacheRule, scope: Scope) -> Lookup | None:
    """The cache key and counters for this request, or None if it must bypass the cache."""
    viewer = None
    if rule.per_user:
        who = await scope_user(scope, ctx)
        if who is None:
            return None  # the handler answers 401; nothing to cache
        viewer = Viewer(str(who.id), who.role, who.session_version)
    query = scope.get("query_string", b"").decode("latin-1")
    return request_lookup(rule, str(scope["path"]), query, viewer)


def request_lookup(
    rule: CacheRule, path: str, query: str, viewer: Viewer | None = None
) -> Lookup | None:
    """The key and counters of a GET of `path?query` by `viewer` under `rule`, or None if an
    unlisted query parameter makes it bypass the cache. The one place the key is made: the
    benchmarks call it too, so a change of format cannot leave them behind."""
    params = parse_qsl(query, keep_blank_values=True)
    if any(name not in rule.allow_query_params for name, _ in params):
        CACHE_EVENTS.labels(rule.name, "bypass_params").inc()
        return None
    material = [rule.name, path, *sorted(f"{k}={v}" for k, v in params)]
    scope_value = dict(params).get(rule.scope) if rule.scope else None
    if rule.per_user:
        if viewer is None:
            return None  # the handler answers 401; nothing to cache
        material += [
            f"user={viewer.user_id}",
            f"role={viewer.role}",
            f"sessions={viewer.session_version}",
        ]
        if rule.scope == "user_id":
            # An admin's list covers everyone.
            scope_value = None if viewer.role == "admin" else viewer.user_id
    return ResponseCache.lookup_for(rule, material, scope_value)


class ResponseCacheMiddleware(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        ctx: Context | None = getattr(scope["app"].state, "ctx", None)
        cache = ctx.cache if ctx else None
        rule = (
            rule_for(cache.rules, scope["path"]) if cache and scope.get("method") == "GET" else None
        )
        lookup = await plan(ctx, rule, scope) if ctx and rule else None
        if cache is None or rule is None or lookup is None:
            await next_app(scope, receive, send)
            return
        try:
            hit, gens = await cache.get(rule, lookup)
        except CacheUnavailable:
            await next_app(scope, receive, send)
            return
        if hit is not None:
            await _send(send, hit, "hit")
            return
        captured = await _capture(scope, receive, send, next_app)
        if captured is not None:
            try:
                await cache.put(rule, lookup, gens, captured)
            except CacheUnavailable:
                pass


async def _send(send: Send, cached: Cached, outcome: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": cached.status,
            "headers": as_headers(cached, outcome),
        }
    )
    await send({"type": "http.response.body", "body": cached.body, "more_body": False})


async def _capture(scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> Cached | None:
    """Pass the response through unchanged while keeping a copy of it."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def tee(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            message = {**message, "headers": [*message.get("headers", []), (b"x-cache", b"miss")]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    await next_app(scope, receive, tee)
    if not start:
        return None
    return cached_from(int(start["status"]), list(start.get("headers", [])), b"".join(chunks))
