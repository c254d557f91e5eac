"""The one place where failures become HTTP responses."""

from __future__ import annotations

import json
from typing import Any

import structlog
from holdfast.db import unavailable
from holdfast.errors import DatabaseUnavailable, DomainError, ErrorKind
from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException
from pymongo.errors import ConnectionFailure
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class RequestRefused(HTTPException):
    """The request's form is refused before its content is read (a content type, a nesting)."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(detail=detail, status_code=status_code)
        self.code = code


def render_domain_error(exc: DomainError) -> tuple[int, dict[str, Any]]:
    return STATUS[exc.kind], {"error": exc.code, "detail": exc.detail, **exc.extra}


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content=body, status_code=status, headers=headers, media_type="application/json"
    )


def on_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status, body = render_domain_error(exc)
    retry_after = exc.extra.get("retry_after")
    return _json(status, body, {"Retry-After": str(retry_after)} if retry_after else None)


def on_database_down(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("mongo.unavailable", error=str(exc)[:200])
    return on_domain_error(
        _, DatabaseUnavailable("The database is unavailable; please try again shortly.")
    )


def _validation_detail(exc: ValidationException) -> tuple[str, str, list[Any]]:
    problems = exc.extra if isinstance(exc.extra, list) else []
    if "decode" in (exc.detail or "").lower() or (
        "json" in (exc.detail or "").lower() and not problems
    ):
        return "malformed_json", "The request body is not valid JSON.", []
    parts = []
    for problem in problems[:5]:
        if isinstance(problem, dict):
            where = str(problem.get("key") or problem.get("source") or "body")
            parts.append(f"{where}: {problem.get('message')}")
    sentence = "The request is not valid: " + "; ".join(parts) + "." if parts else str(exc.detail)
    return "invalid", sentence, problems


def on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, RequestRefused):
        return _json(exc.status_code, {"error": exc.code, "detail": exc.detail})
    if isinstance(exc, ValidationException):
        code, detail, problems = _validation_detail(exc)
        return _json(422, {"error": code, "detail": detail, "problems": problems})
    if type(exc) is ClientException and exc.status_code == 400:
        # Litestar raises a bare ClientException when the body cannot be decoded at all.
        detail = f"The request body is not valid JSON ({exc.detail})."
        return _json(400, {"error": "malformed_json", "detail": detail})
    status = exc.status_code
    if status >= 500 and exc.detail == "client disconnected prematurely":
        # The client left (or was cut off for being too slow): nobody to answer, nothing wrong.
        log.info("http.client_gone")
        return _json(400, {"error": "client_gone", "detail": "The client went away."})
    if status >= 500:
        log.error("http.error", status=status, detail=exc.detail)
        return _json(status, {"error": "internal", "detail": "Something went wrong on our side."})
    code = _HTTP_CODES.get(status, "bad_request")
    return _json(status, {"error": code, "detail": str(exc.detail)}, headers=exc.headers)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if unavailable(exc):  # a step-down or a lost majority, not only a lost connection
        return on_database_down(request, exc)
    if isinstance(exc, RedisError):
        log.warning("redis.unavailable", error=str(exc)[:200])
    log.exception("http.unexpected", path=request.url.path)
    return _json(500, {"error": "internal", "detail": "Something went wrong on our side."})


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    DomainError: on_domain_error,
    ConnectionFailure: on_database_down,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}


async def send_domain_error(send: Any, exc: DomainError) -> None:
    """The same answer as `on_domain_error`, sent by a middleware that refuses a request before
    any handler runs (rate limits, cross-site refusal)."""
    status, content = render_domain_error(exc)
    body = json.dumps(content).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    retry_after = exc.extra.get("retry_after")
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
