"""`Idempotency-Key` replay: the same key and body give the first response again.

Records live in MongoDB (Redis is never authoritative) for `idempotency_hours`. A record is
reserved before the work runs, so a concurrent duplicate sees it in flight; a 5xx releases the
key so the client's retry can succeed. Each reservation carries its request's own token, and
finishing or releasing is conditional on it: a request that stalled past the lease and lost its
reservation to a retry can neither overwrite the retry's answer nor free its reservation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from holdfast.bookings.models import IdempotencyRecord
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.db import unavailable
from holdfast.errors import DomainError, ErrorKind, Invalid
from holdfast.web.errors import render_domain_error
from litestar import Request, Response
from pymongo.errors import DuplicateKeyError, PyMongoError

# A reservation older than this belongs to a request that died; a retry may take it over.
IN_FLIGHT_LEASE = timedelta(seconds=30)

Outcome = tuple[int, Any]


class RequestInProgress(DomainError):
    kind, code = ErrorKind.CONFLICT, "request_in_progress"


def body_fingerprint(body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


async def _reserve(
    ctx: Context, record_id: str, fingerprint: str, owner: str
) -> IdempotencyRecord | None:
    """Reserve the key for `owner`, or return the earlier record that holds it."""
    now = ctx.now()
    record = IdempotencyRecord(
        id=record_id,
        request_hash=fingerprint,
        state="in_progress",
        owner=owner,
        created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.idempotency_hours),
    )
    try:
        await record.insert()
        return None
    except DuplicateKeyError:
        pass
    earlier = await IdempotencyRecord.get(record_id)
    if earlier is None:
        return await _reserve(ctx, record_id, fingerprint, owner)
    stale = as_utc(earlier.expires_at) <= now or (
        earlier.state == "in_progress" and as_utc(earlier.created_at) <= now - IN_FLIGHT_LEASE
    )
    if stale:
        # Deleted here, or (when the delete finds nothing) just changed by someone else, such
        # as the stalled request's own late release: either way, look again.
        await IdempotencyRecord.get_pymongo_collection().delete_one(
            {"_id": record_id, "created_at": earlier.created_at}
        )
        return await _reserve(ctx, record_id, fingerprint, owner)
    return earlier


async def run_once(
    ctx: Context, *, scope: str, key: str, body: bytes, work: Callable[[], Awaitable[Outcome]]
) -> tuple[int, Any, bool]:
    """(status, body, replayed) for this request, running `work` at most once per key."""
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise Invalid(
            "Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key"
        )
    record_id = f"{scope}:{key}"
    fingerprint = body_fingerprint(body)
    owner = secrets.token_hex(16)
    try:
        earlier = await _reserve(ctx, record_id, fingerprint, owner)
    except PyMongoError as exc:
        # The reservation may be written without being acknowledged (a step-down caught it
        # waiting for its majority): free it, or the client's retry would wait out the lease.
        await _release(ctx, record_id, owner, at_once=not unavailable(exc))
        raise
    if earlier is not None:
        if earlier.request_hash != fingerprint:
            raise Invalid(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            )
        if earlier.state == "in_progress":
            raise RequestInProgress("A request with this Idempotency-Key is still being processed.")
        return int(earlier.status_code or 200), earlier.body, True
    try:
        status, content = await work()
    except DomainError as exc:
        status, content = render_domain_error(exc)
        if status >= 500:
            await _release(ctx, record_id, owner, at_once=not unavailable(exc))
            raise
        await _finish(ctx, record_id, owner, status, content)
        raise
    except BaseException as exc:
        await _release(ctx, record_id, owner, at_once=not unavailable(exc))
        raise
    await _finish(ctx, record_id, owner, status, content)
    return status, content, False


async def _finish(ctx: Context, record_id: str, owner: str, status: int, content: Any) -> None:
    await _settle(
        ctx,
        lambda: IdempotencyRecord.get_pymongo_collection().update_one(
            {"_id": record_id, "owner": owner, "state": "in_progress"},
            {"$set": {"state": "done", "status_code": status, "body": content}},
        ),
    )


async def _release(ctx: Context, record_id: str, owner: str, *, at_once: bool) -> None:
    await _settle(
        ctx,
        lambda: IdempotencyRecord.get_pymongo_collection().delete_one(
            {"_id": record_id, "owner": owner, "state": "in_progress"}
        ),
        at_once=at_once,
    )


async def _settle(
    ctx: Context, write: Callable[[], Awaitable[object]], *, at_once: bool = True
) -> None:
    """Record how the request ended: now, or, while MongoDB cannot be reached (often the very
    reason it ended in a 503: an election, an outage), in the background as soon as it can.
    Until then the client's retry is refused as in progress; left alone, for the whole lease.
    A request that already knows MongoDB is unreachable does not wait to learn it again
    (`at_once=False`): its 503 goes out at once."""
    if at_once:
        try:
            await write()
            return
        except PyMongoError:
            pass
    ctx.later(_settle_when_reachable(write))


async def _settle_when_reachable(write: Callable[[], Awaitable[object]]) -> None:
    delay, waited = 0.05, 0.0
    while waited < IN_FLIGHT_LEASE.total_seconds():  # past the lease a retry takes over anyway
        await asyncio.sleep(delay)
        waited += delay
        try:
            await write()
            return
        except PyMongoError:
            delay = min(delay * 2, 0.5)


async def once(
    ctx: Context,
    request: Request[Any, Any, Any],
    scope: str,
    key: str | None,
    work: Callable[[], Awaitable[Outcome]],
) -> Response[Any]:
    """Answer a creating request: `work` once per `Idempotency-Key` within `scope` (the first
    answer again, marked `Idempotent-Replayed`), or simply `work` without a key."""
    if key is None:
        status, body = await work()
        return Response(body, status_code=status)
    status, body, replayed = await run_once(
        ctx, scope=scope, key=key, body=await request.body(), work=work
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(body, status_code=status, headers=headers)
