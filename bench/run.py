"""Holdfast benchmark: contended bookings, their MongoDB floor, and availability reads.

Run from /work/main:  .venv/bin/python -P bench/run.py [--api-workers N]
Waits for the machine to be quiet, starts its own mongod and two redis-servers in a temporary
directory, runs the API as a real uvicorn process, drives it with aiohttp, prints a Markdown
table and writes it to bench/results.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from bson import ObjectId
from holdfast.accounts.service import create_or_reset_admin
from holdfast.availability.service import find_availability
from holdfast.bookings.guard import claim_ids
from holdfast.context import Context, close_context, open_context
from holdfast.db import ensure_indexes
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.settings import Settings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

RESULTS = Path(__file__).resolve().parent / "results.md"
CLIENTS = 50  # concurrent booking clients, and concurrent floor tasks
BOOKING_REQUESTS, BOOKING_SECONDS = 1500, 15.0  # whichever limit is reached first
SOLO_LIMITS = (100, 3.0)  # the same, one worker at a time on the already full day
READ_REQUESTS, READ_SECONDS = 300, 10.0  # per availability series, sequential
READ_WARMUP = 5
READ_DAYS = 14
SINGLE_BOOKINGS = 200  # on the provider whose availability is also read alone
MULTI_PROVIDERS, MULTI_BOOKINGS_EACH = 20, 20  # every other reader gets MULTI_BOOKINGS_EACH
SETUP_CONCURRENCY = 8
TARGET_RATIO, TARGET_SINGLE_READ_MS = 3.0, 10.0
ADMIN_EMAIL, PASSWORD = "admin@bench.example", "bench password"
DEFAULT_API_WORKERS = os.environ.get("BENCH_API_WORKERS", "2")  # `holdfast api --workers`
QUIET_LOAD, QUIET_PATIENCE, QUIET_POLL = 1.0, 300.0, 5.0  # 1-min load average; seconds
ALL_DAY = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]

Db = AsyncDatabase[dict[str, Any]]
Headers = dict[str, str]
Op = Callable[[int], Awaitable[str]]  # worker index -> outcome label
Read = Callable[[], Awaitable[int]]  # -> number of slots offered
Probe = Callable[[], dict[int, float]]  # -> CPU seconds so far, by live process id


# ---------------------------------------------------------------- measurement ----------


@dataclass
class Run:
    """Latencies (seconds) and outcome labels of one measured series."""

    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_outcome: dict[str, list[float]] = field(default_factory=dict)

    def record(self, outcome: str, seconds: float) -> None:
        self.latencies.append(seconds)
        self.by_outcome.setdefault(outcome, []).append(seconds)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def count(self, outcome: str) -> int:
        return len(self.by_outcome.get(outcome, []))

    def p50(self, outcome: str | None = None) -> float:
        return percentiles(self.latencies if outcome is None else self.by_outcome[outcome])[0]


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    if len(seconds) < 2:
        value = seconds[0] * 1000 if seconds else float("nan")
        return value, value
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


async def hammer(op: Op, *, workers: int, total: int, seconds: float) -> Run:
    """`workers` loops calling `op` until `total` calls were issued or `seconds` passed."""
    run, issued = Run(), 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal issued
        while issued < total and time.perf_counter() < deadline:
            issued += 1
            started = time.perf_counter()
            outcome = await op(index)
            run.record(outcome, time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    run.elapsed = time.perf_counter() - began
    return run


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name ([0] is the state); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (NaN where there is none)."""
    if not (fields := stat_fields(pid)):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants (uvicorn's worker processes, say), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        tree.append(pid := todo.pop())
        todo += children.get(pid, [])
    return tree


def cpu_probe(*roots: int, tree: bool = False) -> Probe:
    """CPU seconds of the `roots` processes; with `tree`, of each one's whole process tree."""

    def probe() -> dict[int, float]:
        pids = [pid for root in roots for pid in (process_tree(root) if tree else [root])]
        return {pid: cpu for pid in pids if not math.isnan(cpu := cpu_seconds(pid))}

    return probe


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, from /proc/stat."""
    try:
        numbers = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return 0, 0
    idle = numbers[3] + numbers[4]  # of user nice system idle iowait irq softirq steal
    return sum(numbers) - idle, sum(numbers)


def cpu_shares(before: dict[int, float], after: dict[int, float], seconds: float) -> list[float]:
    """Each process's CPU use between two probes, in % of one core, largest first."""
    used = (100 * (cpu - before.get(pid, 0.0)) / seconds for pid, cpu in after.items())
    return sorted(used, reverse=True)


async def metered(probes: dict[str, Probe], load: Awaitable[Run]) -> tuple[Run, str]:
    """Run `load`; say how busy each probed group and everything else was, in % of one core.

    A group of several busy processes (the API with --workers > 1) also gets its busy processes'
    own shares, largest first. A process that exits during the run loses its CPU time here.
    """
    before = {name: probe() for name, probe in probes.items()}
    machine = machine_jiffies()
    run = await load
    busy, total = (after - first for after, first in zip(machine_jiffies(), machine, strict=True))
    parts = {name: cpu_shares(before[name], probe(), run.elapsed) for name, probe in probes.items()}
    shares = {name: sum(part) for name, part in parts.items()}
    shares["everything else"] = 100 * busy / max(total, 1) * (os.cpu_count() or 1) - sum(
        shares.values()
    )

    def describe(name: str, share: float) -> str:
        split = [f"{part:.0f}%" for part in parts.get(name, []) if part >= 1]
        return f"{name} {share:.0f}%" + (f" ({' + '.join(split)})" if len(split) > 1 else "")

    return run, ", ".join(describe(name, share) for name, share in shares.items())


@dataclass
class Oddities:
    """Outcomes that should not happen, each with the first body or message seen."""

    first: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def note(self, where: str, label: str, detail: str) -> None:
        key = f"{where}: {label}"
        self.counts[key] += 1
        self.first.setdefault(key, detail[:600])


@dataclass(frozen=True)
class Quiet:
    """How the wait for a quiet machine went, before anything was started."""

    load: float  # 1-min load average when the wait ended
    limit: float
    waited: float  # seconds
    gave_up: bool


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_for_quiet(limit: float, patience: float, poll: float = QUIET_POLL) -> Quiet:
    """Poll until the 1-min load average is below `limit`, for at most `patience` seconds."""
    began = time.monotonic()
    while (load := load_average()) >= limit:
        waited = time.monotonic() - began
        if waited >= patience:
            return Quiet(load, limit, waited, gave_up=True)
        print(
            f"1-min load average {load:.2f} >= {limit:g}, waiting ({waited:.0f} s so far)",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(min(poll, patience - waited))
    return Quiet(load, limit, time.monotonic() - began, gave_up=False)


@dataclass
class Findings:
    api_workers: int
    quiet: Quiet
    probes: dict[str, Probe] = field(default_factory=dict)  # groups whose CPU use is reported
    rows: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    odd: Oddities = field(default_factory=Oddities)


# ---------------------------------------------------------------- processes ------------


@dataclass(frozen=True)
class Stack:
    settings: Settings
    floor_url: str  # the same mongod, a database of its own
    base_url: str
    api_log: Path
    probes: dict[str, Probe]  # groups of processes whose CPU use is reported


@contextmanager
def started(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def bench_settings(mongo_port: int, queue_port: int, cache_port: int) -> Settings:
    return Settings(
        mongo_url=mongo_url(mongo_port, "bench"),
        queue_redis_url=redis_url(queue_port),
        cache_redis_url=redis_url(cache_port),
        secret_key=f"bench-secret-{secrets.token_hex(16)}",
    )


def api_server(settings: Settings, root: Path, workers: int) -> Server:
    port, log_path = free_port(), root / "api.log"
    env = {
        **os.environ,
        "HOLDFAST_MONGO_URL": settings.mongo_url,
        "HOLDFAST_QUEUE_REDIS_URL": settings.queue_redis_url,
        # No response cache: these rows measure the database path (bench/cache.py measures
        # the cache), and one address makes every request, so no rate limit either.
        "HOLDFAST_CACHE_REDIS_URL": "",
        "HOLDFAST_RATE_LIMIT_REQUESTS": "100000000",
        "HOLDFAST_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    entry = "import sys; from holdfast.cli import main; sys.exit(main())"
    argv = [sys.executable, "-P", "-c", entry, "api", "--port", str(port)]
    argv += ["--workers", str(workers)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server("api", process, port)


@contextmanager
def started_api(api: Server) -> Iterator[Server]:
    """Like `started`, then kills any worker process the API left behind in its session."""
    try:
        yield api
    finally:
        workers = process_tree(api.pid)[1:]
        api.stop()
        for pid in workers:
            with suppress(OSError):  # gone already, as it should be
                if os.getpgid(pid) == api.pid:  # still ours: the API leads its own session
                    os.kill(pid, signal.SIGKILL)


def wait_ready(api: Server, log_path: Path, timeout: float = 60.0) -> str:
    base_url = f"http://127.0.0.1:{api.port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"API exited early:\n{log_path.read_text(errors='replace')[-800:]}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1.0).status_code == 200:
                return base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"API not ready within {timeout:.0f} s (log: {log_path})")


@contextmanager
def platform_stack(api_workers: int) -> Iterator[Stack]:
    """mongod, two redis-servers and the API process(es); all stopped on the way out."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        queue, cache = (
            stack.enter_context(started(start_redis(root / name, free_port(), persist=False)))
            for name in ("queue-redis", "cache-redis")
        )
        settings = bench_settings(mongo.port, queue.port, cache.port)
        api = stack.enter_context(started_api(api_server(settings, root, api_workers)))
        yield Stack(
            settings=settings,
            floor_url=mongo_url(mongo.port, "bench_floor"),
            base_url=wait_ready(api, root / "api.log"),
            api_log=root / "api.log",
            probes={
                "API": cpu_probe(api.pid, tree=True),  # uvicorn's supervisor and its workers
                "mongod": cpu_probe(mongo.pid),
                "redis": cpu_probe(queue.pid, cache.pid),
                "bench client": cpu_probe(os.getpid()),
            },
        )


# ---------------------------------------------------------------- practice over HTTP ---


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


def http_client(base_url: str) -> httpx.AsyncClient:
    """The untimed setup client."""
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=CLIENTS + 10)
    http = httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits)
    # Every request authenticates with its own Bearer token: keep no session cookies.
    http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return http


def load_client(base_url: str) -> aiohttp.ClientSession:
    """The timed client: lighter on CPU than httpx, one keep-alive connection per client."""
    return aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(limit=CLIENTS),
        timeout=aiohttp.ClientTimeout(total=30.0),
        cookie_jar=aiohttp.DummyCookieJar(),  # Bearer tokens only, as above
    )


async def login(http: httpx.AsyncClient, email: str) -> Headers:
    credentials = {"email": email, "password": PASSWORD}
    body = expect(await http.post("/api/auth/login", json=credentials), 200)
    return {"Authorization": f"Bearer {body['token']}"}


async def register(http: httpx.AsyncClient, email: str) -> Headers:
    user = {"email": email, "password": PASSWORD, "name": "Bench", "timezone": "UTC"}
    expect(await http.post("/api/auth/register", json=user), 201)
    return await login(http, email)


async def bounded(calls: Sequence[Awaitable[Any]], limit: int = SETUP_CONCURRENCY) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[Any]) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


@dataclass(frozen=True)
class Admin:
    http: httpx.AsyncClient
    headers: Headers

    async def provider(self, name: str) -> str:
        body = {"name": name, "timezone": "UTC"}
        made = await self.http.post("/api/admin/providers", json=body, headers=self.headers)
        pid = str(expect(made, 201)["id"])
        hours = await self.http.put(
            f"/api/admin/providers/{pid}/availability",
            json={"rules": ALL_DAY},
            headers=self.headers,
        )
        expect(hours, 200)
        return pid

    async def service(self, name: str, minutes: int, step: int, provider_ids: list[str]) -> str:
        body = {
            "name": name, "duration_minutes": minutes, "slot_step_minutes": step,
            "provider_ids": provider_ids,
        }  # fmt: skip
        made = await self.http.post("/api/admin/services", json=body, headers=self.headers)
        return str(expect(made, 201)["id"])


@dataclass(frozen=True)
class Catalog:
    contended: str  # the provider whose one day the booking clients fight over
    short: str  # 30 min, 15-min step, contended provider only
    long: str  # 60 min, 15-min step, contended provider only
    readers: list[str]  # MULTI_PROVIDERS providers; readers[0] is also read alone
    consult: str  # 60 min, hourly, offered by every reader


async def build_catalog(admin: Admin) -> Catalog:
    contended = await admin.provider("Contended")
    readers = [await admin.provider(f"Reader {i:02}") for i in range(MULTI_PROVIDERS)]
    return Catalog(
        contended=contended,
        short=await admin.service("Short 30", 30, 15, [contended]),
        long=await admin.service("Long 60", 60, 15, [contended]),
        readers=readers,
        consult=await admin.service("Consult 60", 60, 60, readers),
    )


@dataclass(frozen=True)
class Offer:
    service_id: str
    provider_id: str
    start: str  # ISO 8601 UTC, as the API returns it


async def offers(
    http: httpx.AsyncClient, service_id: str, provider_id: str, day: date, days: int
) -> list[Offer]:
    params: dict[str, str | int] = {
        "service_id": service_id, "provider_id": provider_id, "from": str(day), "days": days,
    }  # fmt: skip
    slots = expect(await http.get("/api/availability", params=params), 200)["slots"]
    return [Offer(service_id, s["provider_id"], s["start"]) for s in slots]


def booking_body(offer: Offer) -> dict[str, str]:
    return {"service_id": offer.service_id, "provider_id": offer.provider_id, "start": offer.start}


async def book(http: httpx.AsyncClient, offer: Offer, headers: Headers) -> httpx.Response:
    return await http.post("/api/bookings", json=booking_body(offer), headers=headers)


async def seed_reader_bookings(
    http: httpx.AsyncClient, catalog: Catalog, users: list[Headers], day: date
) -> int:
    """SINGLE_BOOKINGS on readers[0], MULTI_BOOKINGS_EACH on each other reader, all distinct."""
    chosen: list[Offer] = []
    for index, provider in enumerate(catalog.readers):
        free = await offers(http, catalog.consult, provider, day, READ_DAYS)
        chosen += random.sample(free, SINGLE_BOOKINGS if index == 0 else MULTI_BOOKINGS_EACH)
    calls = [book(http, o, users[i % len(users)]) for i, o in enumerate(chosen)]
    for response in await bounded(calls):
        expect(response, 201)
    return len(chosen)


# ---------------------------------------------------------------- contended bookings ---


def booking_op(
    load: aiohttp.ClientSession, pool: list[Offer], users: list[Headers], odd: Oddities
) -> Op:
    async def op(worker: int) -> str:
        body = booking_body(random.choice(pool))
        try:
            async with load.post("/api/bookings", json=body, headers=users[worker]) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            odd.note("POST /api/bookings", type(exc).__name__, repr(exc))
            return type(exc).__name__
        if response.status not in (201, 409):
            odd.note("POST /api/bookings", str(response.status), content.decode(errors="replace"))
        return str(response.status)

    return op


@dataclass
class Floor:
    """The bare transaction the no-overlap guarantee needs, straight through PyMongo."""

    client: AsyncMongoClient[dict[str, Any]]
    provider: str = field(default_factory=lambda: str(ObjectId()))
    retries: int = 0  # TransientTransactionError retries

    @property
    def db(self) -> Db:
        return self.client.get_database()

    async def prepare(self) -> None:
        """Create the collections up front: implicit creation inside transactions conflicts."""
        for name in ("slot_claims", "bookings", "booking_events"):
            await self.db.create_collection(name)

    def op(self, pool: list[Offer], odd: Oddities) -> Op:
        async def run(_: int) -> str:
            start = datetime.fromisoformat(random.choice(pool).start)
            try:
                return await self.book(start, start + timedelta(minutes=60))
            except PyMongoError as exc:
                odd.note("floor transaction", type(exc).__name__, str(exc))
                return type(exc).__name__

        return run

    async def book(self, start: datetime, end: datetime) -> str:
        """'committed' or 'collision'; transient conflicts retried as holdfast.db.transact does."""
        booking_id = ObjectId()
        claims = [
            {"_id": c, "booking_id": booking_id} for c in claim_ids(self.provider, start, end)
        ]
        booking = {
            "_id": booking_id, "provider_id": self.provider, "start": start, "end": end,
            "occupied_start": start, "occupied_end": end, "status": "confirmed",
        }  # fmt: skip
        event = {"_id": ObjectId(), "booking_id": booking_id, "action": "created", "at": start}
        for attempt in range(30):
            try:
                await self.transaction(claims, booking, event)
                return "committed"
            except PyMongoError as exc:
                if is_duplicate(exc):
                    return "collision"
                if not exc.has_error_label("TransientTransactionError"):
                    raise
            self.retries += 1
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError("floor transaction: 30 transient failures in a row")

    async def transaction(
        self, claims: list[dict[str, Any]], booking: dict[str, Any], event: dict[str, Any]
    ) -> None:
        async with self.client.start_session() as session, await session.start_transaction():
            await self.db.slot_claims.insert_many(claims, session=session)
            await self.db.bookings.insert_one(booking, session=session)
            await self.db.booking_events.insert_one(event, session=session)


def is_duplicate(exc: PyMongoError) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    errors = exc.details.get("writeErrors", []) if isinstance(exc, BulkWriteError) else []
    return bool(errors) and errors[0].get("code") == 11000


async def overlaps(db: Db) -> tuple[int, int, int]:
    """(bookings overlapping an earlier one, non-cancelled bookings, providers)."""
    cursor = db.bookings.find(
        {"status": {"$ne": "cancelled"}},
        projection={"provider_id": 1, "occupied_start": 1, "occupied_end": 1},
    ).sort([("provider_id", 1), ("occupied_start", 1)])
    bad = seen = 0
    reach: dict[Any, datetime] = {}  # provider -> latest occupied_end so far
    async for doc in cursor:
        seen += 1
        latest = reach.get(doc["provider_id"])
        bad += latest is not None and doc["occupied_start"] < latest
        reach[doc["provider_id"]] = max(latest or doc["occupied_end"], doc["occupied_end"])
    return bad, seen, len(reach)


@dataclass(frozen=True)
class Race:
    """One booking run through the API and one floor run, with the same number of workers."""

    workers: int
    booking: Run
    floor: Run
    floor_retries: int


async def race(workers: int, api: Op, floor: Floor, pool: list[Offer], found: Findings) -> Race:
    total, seconds = (BOOKING_REQUESTS, BOOKING_SECONDS) if workers > 1 else SOLO_LIMITS
    load = partial(hammer, workers=workers, total=total, seconds=seconds)
    booking, api_cpu = await metered(found.probes, load(api))
    retries = floor.retries
    floored, floor_cpu = await metered(found.probes, load(floor.op(pool, found.odd)))
    found.facts.append(f"- CPU, booking run with {counted(workers, 'client')}: {api_cpu}.")
    found.facts.append(f"- CPU, floor run with {counted(workers, 'task')}: {floor_cpu}.")
    return Race(workers, booking, floored, floor.retries - retries)


async def contention(
    http: httpx.AsyncClient, load: aiohttp.ClientSession, app_db: Db, floor: Floor,
    catalog: Catalog, users: list[Headers], day: date, found: Findings,
) -> None:  # fmt: skip
    """Both runs with CLIENTS workers, then with one on the full day; then the overlap checks."""
    pool = await offers(http, catalog.short, catalog.contended, day, 1)
    pool += await offers(http, catalog.long, catalog.contended, day, 1)
    found.facts.append(f"- Contended day {day}: {len(pool)} offered starts (30 + 60 min).")
    api = booking_op(load, pool, users, found.odd)
    await floor.prepare()
    found.rows += race_rows(await race(CLIENTS, api, floor, pool, found), "one provider-day")
    found.rows += race_rows(await race(1, api, floor, pool, found), "day full (diagnostic)")
    found.rows.append(overlap_row("Overlap check, API database", await overlaps(app_db)))
    found.rows.append(overlap_row("Overlap check, floor database", await overlaps(floor.db)))


# ---------------------------------------------------------------- availability reads ---


@dataclass(frozen=True)
class ReadCase:
    label: str
    provider_id: str | None  # None: every provider of the service
    target_ms: float | None = None  # p50 target, in-process only


async def read_series(read: Read, odd: Oddities, where: str) -> tuple[Run, int]:
    """Warm up, then call `read` sequentially; the run and the slot count it saw."""
    slots = await read()
    for _ in range(READ_WARMUP - 1):
        await read()

    async def op(_: int) -> str:
        try:
            found = await read()
        except Exception as exc:  # reported, not raised: one failure should not end the run
            odd.note(where, type(exc).__name__, repr(exc))
            return type(exc).__name__
        return "ok" if found == slots else "slot count changed"

    return await hammer(op, workers=1, total=READ_REQUESTS, seconds=READ_SECONDS), slots


def http_reader(load: aiohttp.ClientSession, service_id: str, case: ReadCase, day: date) -> Read:
    params: dict[str, str | int] = {
        "service_id": service_id, "from": str(day), "days": READ_DAYS, "tz": "UTC",
    }  # fmt: skip
    if case.provider_id is not None:
        params["provider_id"] = case.provider_id

    async def read() -> int:
        async with load.get("/api/availability", params=params) as response:
            content = await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET /api/availability: {response.status} {content[:500]!r}")
        return len(json.loads(content)["slots"])

    return read


def inprocess_reader(ctx: Context, service_id: str, case: ReadCase, day: date) -> Read:
    async def read() -> int:
        page = await find_availability(
            ctx, service_id=service_id, provider_id=case.provider_id,
            from_date=day, days=READ_DAYS, tz_name="UTC",
        )  # fmt: skip
        return len(page.slots)

    return read


async def availability(
    load: aiohttp.ClientSession, ctx: Context, catalog: Catalog, day: date, odd: Oddities
) -> list[str]:
    cases = [
        ReadCase("1 provider", catalog.readers[0], TARGET_SINGLE_READ_MS),
        ReadCase(f"{MULTI_PROVIDERS} providers", None),
    ]
    rows = []
    for case in cases:
        for how, read in (
            ("HTTP", http_reader(load, catalog.consult, case, day)),
            ("in-process", inprocess_reader(ctx, catalog.consult, case, day)),
        ):
            label = f"Availability {case.label}, {READ_DAYS} days, {how}"
            run, slots = await read_series(read, odd, label)
            target = case.target_ms if how == "in-process" else None
            rows.append(read_row(label, run, slots, target))
    return rows


# ---------------------------------------------------------------- report ---------------


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def row(name: str, run: Run | None, notes: str) -> str:
    if run is None:
        return f"| {name} | | | | | {notes} |"
    p50, p99 = percentiles(run.latencies)
    return f"| {name} | {len(run.latencies)} | {run.rate:.0f} | {p50:.1f} | {p99:.1f} | {notes} |"


def race_rows(race: Race, what: str) -> list[str]:
    booking, floor = race.booking, race.floor
    split = ", ".join(
        f"p50 {c} {booking.p50(c):.1f} ms" for c in ("201", "409") if booking.count(c)
    )
    other = len(booking.latencies) - booking.count("201") - booking.count("409")
    failed = len(floor.latencies) - floor.count("committed") - floor.count("collision")
    ratio = booking.p50() / floor.p50()
    target = TARGET_RATIO if race.workers > 1 else None
    return [
        row(
            f"POST /api/bookings, {counted(race.workers, 'client')}, {what}",
            booking,
            f"201: {booking.count('201')}, 409: {booking.count('409')}, other: {other}; {split}",
        ),
        row(
            f"Floor: bare MongoDB transaction, {counted(race.workers, 'task')}, {what}",
            floor,
            f"committed: {floor.count('committed')}, collisions: {floor.count('collision')}, "
            f"errors: {failed}, transient retries: {race.floor_retries}",
        ),
        row(
            f"Ratio booking p50 / floor p50, {counted(race.workers, 'worker')}",
            None,
            f"{ratio:.1f}x"
            + (f" (target <= {target:g}x: {verdict(ratio <= target)})" if target else ""),
        ),
    ]


def overlap_row(name: str, found: tuple[int, int, int]) -> str:
    bad, seen, providers = found
    notes = (
        f"{bad} overlapping among {seen} non-cancelled bookings on {counted(providers, 'provider')}"
    )
    return row(name, None, f"{notes} ({verdict(bad == 0)})")


def read_row(label: str, run: Run, slots: int, target_ms: float | None) -> str:
    notes = [f"{slots} slots per response"]
    if target_ms is not None:
        notes.append(f"target p50 < {target_ms:g} ms: {verdict(run.p50() < target_ms)}")
    if odd := len(run.latencies) - run.count("ok"):
        notes.append(f"{odd} failed or inconsistent")
    return row(label, run, "; ".join(notes))


def api_log_summary(log_path: Path) -> list[str]:
    """Warning and error events the API logged, by event name, plus any non-JSON lines."""
    events: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            events[f"(plain) {line[:120]}"] += 1
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            events[f"{entry['level']} {entry.get('event')}"] += 1
    return [f"- API log: {count} x `{what}`" for what, count in events.most_common(10)]


def quiet_note(quiet: Quiet) -> str:
    if quiet.gave_up:
        return (
            f"1-min load average still {quiet.load:.2f} after waiting {quiet.waited:.0f} s for it "
            f"to fall below {quiet.limit:g}: the run went ahead on a busy machine"
        )
    waited = f", after waiting {quiet.waited:.0f} s for it" if quiet.waited >= 1 else ""
    return f"1-min load average {quiet.load:.2f} (below {quiet.limit:g}{waited}) before it started"


def render(found: Findings, api_log: list[str]) -> str:
    odd = found.odd
    surprises = [f"- {n} x {key}; first: `{odd.first[key]}`" for key, n in odd.counts.most_common()]
    if found.quiet.gave_up:
        surprises.insert(0, f"- {quiet_note(found.quiet)}.")
    return "\n".join(
        [
            "# Holdfast benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, API `holdfast api --workers {found.api_workers}`, "
            f"load from aiohttp {aiohttp.__version__}; {quiet_note(found.quiet)}. "
            "Latencies in ms, client-side except in-process rows.",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *found.rows,
            "",
            *found.facts,
            "",
            "Unexpected outcomes (non-201/409 bookings, failed reads, API log warnings/errors):",
            "",
            *(surprises + api_log or ["- none"]),
            "",
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def practice(http: httpx.AsyncClient, ctx: Context) -> tuple[Catalog, list[Headers]]:
    """Admin (service function), catalog and client accounts (HTTP); not timed."""
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    catalog = await build_catalog(Admin(http, await login(http, ADMIN_EMAIL)))
    users = await bounded([register(http, f"client{i}@bench.example") for i in range(CLIENTS)])
    return catalog, users


async def measure(stack: Stack, found: Findings) -> None:
    ctx = await open_context(stack.settings)
    http = http_client(stack.base_url)
    load = load_client(stack.base_url)
    try:
        catalog, users = await practice(http, ctx)
        day = datetime.now(UTC).date() + timedelta(days=1)
        seeded = await seed_reader_bookings(http, catalog, users, day)
        found.facts.append(f"- Seeded {seeded} bookings on {MULTI_PROVIDERS} readers from {day}.")
        floor = Floor(AsyncMongoClient(stack.floor_url, tz_aware=True))
        try:
            await contention(http, load, ctx.db, floor, catalog, users, day, found)
        finally:
            await floor.client.close()
        found.rows += await availability(load, ctx, catalog, day, found.odd)
    finally:
        await load.close()
        await http.aclose()
        await close_context(ctx)


def positive(text: str) -> int:
    if (number := int(text)) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def bench_parser(doc: str, output: Path, when: str = "first") -> argparse.ArgumentParser:
    """The options of every bench script: the wait for a quiet machine and the report's path.

    `when` says when the script waits: "first", or "before each timed part", say.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument(
        "--max-load", type=float, default=QUIET_LOAD, metavar="L",
        help=f"{when} wait until the 1-min load average is below L (default {QUIET_LOAD:g})",
    )  # fmt: skip
    parser.add_argument(
        "--max-wait", type=float, default=QUIET_PATIENCE, metavar="S",
        help="stop waiting after S seconds, run anyway and say so in the report "
        f"(default {QUIET_PATIENCE:g}; 0 = do not wait)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=output, metavar="PATH",
        help=f"where to write the report (default bench/{output.name})",
    )  # fmt: skip
    return parser


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, RESULTS)
    parser.add_argument(
        "--api-workers", type=positive, default=DEFAULT_API_WORKERS, metavar="N",
        help="API processes, `holdfast api --workers N` (default: $BENCH_API_WORKERS or 2)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    quiet = wait_for_quiet(args.max_load, args.max_wait)
    began, found = time.perf_counter(), Findings(args.api_workers, quiet)
    with platform_stack(args.api_workers) as stack:
        found.probes.update(stack.probes)
        asyncio.run(measure(stack, found))
        report = render(found, api_log_summary(stack.api_log))
    report += f"\nWhole run: {time.perf_counter() - began:.0f} s.\n"
    print(report)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
