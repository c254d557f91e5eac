"""Applying the rate limits (`holdfast.ratelimits`) to HTTP requests: 429 with Retry-After.

The limits apply where this middleware sits: every route a person or an API client calls (see
`holdfast.web.app`). The webhooks are served outside it (they are verified instead), and so is the
API's own document; within it, health checks and static files are exempt. /metrics is not: a
scraper's few requests a minute never reach the limit, a token guesser does.
"""

from __future__ import annotations

from typing import Any

from holdfast.ratelimits import RateLimited
from holdfast.web.auth import peek_caller
from holdfast.web.errors import send_domain_error
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

EXEMPT_PREFIXES = ("/health/", "/static/")


def is_rate_limited(path: str) -> bool:
    """Whether a request to `path` that reaches this middleware is counted."""
    return path != "/" and not path.startswith(EXEMPT_PREFIXES)


def limits_route(handler: BaseRouteHandler, path: str) -> bool:
    """Whether a route can answer 429: it sits behind this middleware and its path counts."""
    layers = handler.resolve_middleware()
    return is_rate_limited(path) and any(isinstance(m, RateLimitMiddleware) for m in layers)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _client(scope: Scope, ctx: Any) -> str:
    caller = peek_caller(scope, ctx)
    return f"user:{caller.user_id}" if caller else f"address:{client_address(scope)}"


class RateLimitMiddleware(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        ctx: Any = getattr(scope["app"].state, "ctx", None)
        path = str(scope.get("path", ""))
        if ctx is None or not is_rate_limited(path):
            await next_app(scope, receive, send)
            return
        try:
            await ctx.limiter.check_request(_client(scope, ctx), ctx.now())
        except RateLimited as refused:
            await send_domain_error(send, refused)
            return
        await next_app(scope, receive, send)
