"""MongoDB: the client, the document models, indexes and the guarded transaction helper."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from beanie import Document, PydanticObjectId, init_beanie
from holdfast.errors import DatabaseUnavailable, DomainError, ErrorKind
from holdfast.settings import Settings
from prometheus_client import Gauge
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

log = structlog.get_logger(__name__)
INDEX_MISSING = Gauge(
    "holdfast_index_missing", "1 while a declared MongoDB index could not be built", ["index"]
)
T = TypeVar("T")

Mongo = AsyncMongoClient[dict[str, Any]]
Database = AsyncDatabase[dict[str, Any]]
Session = AsyncClientSession


def document_models() -> list[type[Any]]:
    from holdfast.accounts.models import User
    from holdfast.bookings.models import (
        Booking,
        BookingEvent,
        IdempotencyRecord,
        SlotClaim,
        SlotHold,
    )
    from holdfast.calendly.models import CalendlyDelivery, SchedulingToken
    from holdfast.catalog.models import Provider, Service
    from holdfast.inbox.models import Delivery
    from holdfast.integrations import models as integrations
    from holdfast.jobs.models import Heartbeat, Job
    from holdfast.monitoring.models import FunnelDay, Incident, TrafficMinute
    from holdfast.notifications.models import Message
    from holdfast.payments.models import Payment
    from holdfast.scheduling.models import Series
    from holdfast.waitlist.models import Offer, OfferSeat, Opening, WaitlistEntry

    return [
        User, Provider, Service, Booking, BookingEvent, SlotClaim, IdempotencyRecord,
        Job, Heartbeat, Message, SchedulingToken, CalendlyDelivery, Delivery,
        SlotHold, WaitlistEntry, Opening, Offer, OfferSeat,
        Series,
        integrations.GoogleConnection, integrations.ExternalBusy, integrations.OAuthState,
        integrations.SharedToken, integrations.MeetingRecord, integrations.IntegrationHealth,
        Payment,
        TrafficMinute, Incident, FunnelDay,
    ]  # fmt: skip


DocumentT = TypeVar("DocumentT", bound=Document)


async def by_id(
    model: type[DocumentT], ids: Iterable[PydanticObjectId | None]
) -> dict[PydanticObjectId, DocumentT]:
    """The documents with these ids, by id, in one round trip (for lists that name what each
    row refers to); ids that are None or not found are left out."""
    wanted = list({i for i in ids if i is not None})
    if not wanted:
        return {}
    found = await model.find({"_id": {"$in": wanted}}).to_list()
    return {d.id: d for d in found if d.id is not None}


def connect(settings: Settings) -> Mongo:
    """A client that fails fast: an unreachable MongoDB surfaces within the timeout as a 503.

    Every write, the booking transaction's commit included, is acknowledged only once a
    majority of the replica set has it in its journal, so a booking answered 201 survives the
    primary's death. (The one exception is the job runner's own bookkeeping, whose loss only
    runs a job again: see `holdfast.jobs.runner`.) MongoDB 5+ defaults to that on most replica
    sets, but not with an arbiter (PSA: w:1) or a changed cluster-wide default, so it is said
    here. It also makes an Idempotency-Key retry safe: its reservation is a majority write after
    the first attempt's commit on the same oplog, so a booking the retry finds is durable, not
    one a failover could still roll back.
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


# How long a long-running process (the API, the promoter, a worker) starting while the replica
# set has no primary (an election) waits for one instead of exiting; a command fails at once.
STARTUP_PATIENCE_SECONDS = 60.0


async def init_models(database: Database, *, patience: float = 0.0) -> None:
    """Bind the Beanie documents; indexes come from `ensure_indexes`. Beanie asks the primary
    for its version once, which fails while the set has none: for up to `patience` seconds it
    is asked again (a worker started during an election exited, and nobody sent the
    confirmations)."""
    deadline, delay = time.monotonic() + patience, 0.2
    while True:
        try:
            await init_beanie(
                database=database, document_models=document_models(), skip_indexes=True
            )
            return
        except ConnectionFailure:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("mongo.unreachable_at_start", retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class IndexMissing(DomainError):
    """A write that relies on a unique index while the index does not exist yet."""

    kind, code = ErrorKind.UNAVAILABLE, "index_missing"


class IndexesNotBuilt(SystemExit):
    """`ensure_indexes` (the CLI's) could not build every index: the command stops with one
    sentence naming each index and why; the log line before it has MongoDB's own words."""


@dataclass(frozen=True, slots=True)
class DeclaredIndex:
    name: str  # "<collection>.<index name>", as logs, health and `require` say it
    collection: str
    model: IndexModel
    unique: bool


def declared_indexes() -> list[DeclaredIndex]:
    """Every index the document models declare, the unique ones first (writes wait for them)."""
    found = [
        DeclaredIndex(
            name=f"{model.get_settings().name}.{field.name}",
            collection=model.get_settings().name,
            model=field.index,
            unique=bool(field.index.document.get("unique")),
        )
        for model in document_models()
        for field in model.get_settings().indexes
    ]
    return sorted(found, key=lambda index: not index.unique)


def _why(exc: Exception) -> str:
    """Why an index was not built, in words safe for a public health page (an E11000 message
    quotes the duplicated value, e.g. someone's email address: that goes to the log only)."""
    if isinstance(exc, OperationFailure):
        if exc.code == 11000:
            return "duplicate values exist in its fields; remove them and it is built on a retry"
        return f"MongoDB refused it: {(exc.details or {}).get('codeName', 'error')} ({exc.code})"
    return f"it failed with {type(exc).__name__}"


class Indexes:
    """Which declared indexes exist, and why any that does not could not be built.

    Writes that are only safe with a unique index call `require` first, so a duplicate can never
    slip in while that index is missing (at start-up, or while its build keeps failing)."""

    def __init__(
        self, database: Database, *, retry_seconds: float = 30.0, start_wait_seconds: float = 5.0
    ) -> None:
        self.database = database
        self.retry_seconds = retry_seconds
        self.start_wait_seconds = start_wait_seconds
        self.built: set[str] = set()
        self.failed: dict[str, str] = {}
        self.building = False  # this process runs `keep_ensuring_indexes`
        self.first_pass = asyncio.Event()  # every index has been tried once
        self.ready = asyncio.Event()  # every index exists

    def missing(self, declared: list[DeclaredIndex]) -> list[DeclaredIndex]:
        return [index for index in declared if index.name not in self.built]

    def status(self) -> dict[str, str]:
        """The indexes not built yet, each with why (for /health/ready)."""
        missing = self.missing(declared_indexes())
        return {index.name: self.failed.get(index.name, "not built yet") for index in missing}

    async def require(self, *names: str, refusing: str, because: str) -> None:
        """Raise `IndexMissing` unless every named index exists. While this process is still
        making its first attempt, wait briefly for it; a process that builds none (the CLI)
        asks MongoDB once."""
        if all(name in self.built for name in names):
            return
        if self.building and not self.first_pass.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.first_pass.wait(), self.start_wait_seconds)
        if not self.first_pass.is_set():  # no attempt here has finished: MongoDB knows
            for name in names:
                if name not in self.built and await self._exists(name):
                    self.built.add(name)
        if missing := [name for name in names if name not in self.built]:
            raise IndexMissing(
                f"{refusing} is paused until the database can make sure {because} "
                f"(index {', '.join(missing)} is not built yet); please try again later."
            )

    async def _exists(self, name: str) -> bool:
        collection, _, index = name.partition(".")
        return index in await self.database.get_collection(collection).index_information()

    async def build(self, index: DeclaredIndex) -> None:
        """Build one index; a failure other than an unreachable MongoDB is recorded and logged
        at error, naming the index, and the caller retries later."""
        try:
            await self.database.get_collection(index.collection).create_indexes([index.model])
        except ConnectionFailure:
            raise
        except Exception as exc:
            why = _why(exc)
            self.failed[index.name] = why
            INDEX_MISSING.labels(index.name).set(1)
            log.error("mongo.index_failed", index=index.name, reason=why, error=str(exc)[:500])
            return
        if self.failed.pop(index.name, None) is not None:
            log.info("mongo.index_built", index=index.name, after_failing=True)
        self.built.add(index.name)
        INDEX_MISSING.labels(index.name).set(0)


def retired_indexes() -> dict[str, set[str]]:
    """Per collection, the indexes its model says newer ones replaced."""
    return {
        model.get_settings().name: set(model.retired_indexes)
        for model in document_models()
        if getattr(model, "retired_indexes", ())
    }


_INDEX_NOT_FOUND = 27


async def drop_retired_indexes(database: Database) -> None:
    """Drop the indexes newer ones replaced, once every declared index exists (so no query is
    left without the index it needs): a database from an earlier version would otherwise keep
    updating them on every write. Every process does it at start: one read of a collection's
    indexes, and a drop only of those still there (another process may beat it to one)."""
    for collection, retired in retired_indexes().items():
        indexes = database.get_collection(collection)
        for name in retired & set(await indexes.index_information()):
            try:
                await indexes.drop_index(name)
            except OperationFailure as exc:
                if exc.code != _INDEX_NOT_FOUND:
                    log.warning(
                        "mongo.index_not_dropped", index=f"{collection}.{name}", error=str(exc)
                    )
                continue
            log.info("mongo.index_dropped", index=f"{collection}.{name}", reason="replaced")


async def ensure_indexes(database: Database) -> None:
    """Build every declared index now, or raise `IndexesNotBuilt` naming each that failed;
    then drop the retired ones."""
    indexes = Indexes(database)
    for index in declared_indexes():
        await indexes.build(index)
    if indexes.failed:
        raise IndexesNotBuilt(
            "Holdfast cannot continue: MongoDB indexes could not be built: "
            + "; ".join(f"{name}: {why}" for name, why in indexes.failed.items())
        )
    await drop_retired_indexes(database)


async def keep_ensuring_indexes(indexes: Indexes) -> None:
    """Build every declared index, retrying what fails until all exist. The process serves
    meanwhile: `indexes.require` refuses the writes that need a missing one, and
    /health/ready names it."""
    declared = declared_indexes()
    indexes.building = True
    delay = 0.2
    while missing := indexes.missing(declared):
        try:
            for index in missing:
                await indexes.build(index)
        except ConnectionFailure:
            log.warning("mongo.unreachable_at_start", retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        indexes.first_pass.set()
        if indexes.failed:
            await asyncio.sleep(delay)
            delay = min(delay * 2, indexes.retry_seconds)
    indexes.first_pass.set()
    try:
        await drop_retired_indexes(indexes.database)
    except ConnectionFailure as exc:  # the next start tries again
        log.warning("mongo.retired_indexes_kept", error=str(exc)[:200])
    indexes.ready.set()


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
