"""What an endpoint that takes a JSON body accepts: `application/json`, nested a few levels deep.

A browser sends `text/plain`, form-encoded and multipart bodies cross-site without asking
anyone, so reading such a body as JSON is what lets a forged form book or cancel: any other
content type is refused with 415 before the body is parsed. A body nested thousands of levels
deep is refused before the JSON decoder recurses into it (msgspec raises RecursionError there).
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from holdfast.web.errors import RequestRefused
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

MAX_DEPTH = 32  # our deepest body (a service with its price) nests three levels
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]")


def takes_json_body(handler: BaseRouteHandler) -> bool:
    return "data" in handler.parsed_fn_signature.parameters


def is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest, brackets inside strings aside."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return MAX_DEPTH  # cannot be deeper: skip the exact count (every ordinary body)
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", body))
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    length = connection.headers.get("content-length")
    return "transfer-encoding" in connection.headers or (length is not None and length != "0")


async def json_bodies_only(connection: Request[Any, Any, Any]) -> None:
    """The app's `before_request` hook: it runs after routing and before any parameter is
    parsed. (As an app-wide guard it cost every request a copy of its route handler: Litestar
    hands each guard a fresh copy.)"""
    if not takes_json_body(connection.route_handler):
        return
    if not _has_body(connection):
        return
    if not is_json(connection.headers.get("content-type", "")):
        raise RequestRefused(
            415,
            "unsupported_media_type",
            "This endpoint takes a JSON body: send it with Content-Type: application/json.",
        )
    body = await connection.body()  # read once: the handler's parameters reuse it
    if nesting_depth(body) > MAX_DEPTH:
        raise RequestRefused(
            400,
            "body_too_deep",
            f"The request body nests arrays or objects more than {MAX_DEPTH} levels deep.",
        )
