"""MongoDB: the client, the document models, indexes and the guarded transaction helper."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from beanie import init_beanie
from holdfast.errors import DatabaseUnavailable
from holdfast.settings import Settings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

log = structlog.get_logger(__name__)
T = TypeVar("T")

Mongo = AsyncMongoClient[dict[str, Any]]
Database = AsyncDatabase[dict[str, Any]]
Session = AsyncClientSession


def document_models() -> list[type[Any]]:
    from holdfast.accounts.models import User
    from holdfast.bookings.models import Booking, BookingEvent, IdempotencyRecord, SlotClaim
    from holdfast.calendly.models import CalendlyDelivery, SchedulingToken
    from holdfast.catalog.models import Provider, Service
    from holdfast.jobs.models import Heartbeat, Job
    from holdfast.notifications.models import Message

    return [
        User, Provider, Service, Booking, BookingEvent, SlotClaim, IdempotencyRecord,
        Job, Heartbeat, Message, SchedulingToken, CalendlyDelivery,
    ]  # fmt: skip


def connect(settings: Settings) -> Mongo:
    """A client that fails fast: an unreachable MongoDB surfaces within the timeout as a 503.

    Every write, the booking transaction's commit included, is acknowledged only once a
    majority of the replica set has it in its journal, so a booking answered 201 survives the
    primary's death. MongoDB 5+ defaults to that on most replica sets, but not with an arbiter
    (PSA: w:1) or a changed cluster-wide default, so it is said here. It also makes an
    Idempotency-Key retry safe: its reservation is a majority write after the first attempt's
    commit on the same oplog, so a booking the retry finds is durable, not one a failover
    could still roll back.
    """
    timeout = settings.mongo_timeout_ms
    return AsyncMongoClient(
        settings.mongo_url,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=max(timeout * 4, 5_000),
        tz_aware=True,
        retryWrites=True,
        w="majority",
        journal=True,
    )


async def init_models(database: Database) -> None:
    """Bind the Beanie documents without touching the server; indexes come from `ensure_indexes`."""
    await init_beanie(database=database, document_models=document_models(), skip_indexes=True)


async def ensure_indexes(database: Database) -> None:
    await init_beanie(database=database, document_models=document_models())


async def keep_ensuring_indexes(database: Database, ready: asyncio.Event) -> None:
    """Create indexes now, or as soon as MongoDB is reachable; the API starts either way."""
    delay = 0.2
    while True:
        try:
            await ensure_indexes(database)
        except ConnectionFailure:
            log.warning("mongo.unreachable_at_start", retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        ready.set()
        return


# MongoDB's codes for "not now": the node is no longer primary, is shutting down, or was
# interrupted by a change of primary; or a majority did not acknowledge in time.
_NO_PRIMARY_CODES = frozenset({64, 91, 189, 10107, 11600, 11602, 13435, 13436})


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means MongoDB has no usable primary right now (unreachable, an election, a
    step-down, a lost majority): a 503 and a retry later, not a bug.

    A write caught waiting for its majority when the primary steps down fails with a
    write-concern error, not a lost connection, so `ConnectionFailure` alone is not enough.
    `DatabaseUnavailable`, which `transact` raises for all of these, counts too.
    """
    if isinstance(exc, ConnectionFailure | DatabaseUnavailable) or (
        isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")
    ):
        return True
    if isinstance(exc, BulkWriteError):
        concerns = exc.details.get("writeConcernErrors") or []
        return bool(concerns) and all(c.get("code") in _NO_PRIMARY_CODES for c in concerns)
    return isinstance(exc, OperationFailure) and exc.code in _NO_PRIMARY_CODES


async def transact(
    client: Mongo, work: Callable[[Session], Awaitable[T]], *, attempts: int = 30
) -> T:
    """Run `work` in one MongoDB transaction, retrying only transient write conflicts.

    `with_transaction` would also retry a lost connection for up to two minutes; an outage must
    become a 503 within a second instead, so connection failures are raised at once.
    """
    for attempt in range(attempts):
        try:
            async with client.start_session() as session, await session.start_transaction():
                return await work(session)
        except ConnectionFailure as exc:
            raise DatabaseUnavailable(
                "The database is unavailable; please try again shortly."
            ) from exc
        except PyMongoError as exc:
            # A commit whose outcome is unknown is retried whole: callers write deterministic
            # ids, so a commit that did land shows up as a duplicate key on the retry.
            transient = exc.has_error_label("TransientTransactionError") or exc.has_error_label(
                "UnknownTransactionCommitResult"
            )
            if not transient or attempt == attempts - 1:
                if unavailable(exc):  # e.g. the commit caught by a step-down, every time
                    raise DatabaseUnavailable(
                        "The database is unavailable; please try again shortly."
                    ) from exc
                raise
            # Jittered backoff spreads writers that collided on the same claim documents.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise AssertionError("unreachable")
