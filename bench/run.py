"""Holdfast benchmark: contended and uncontended bookings, their MongoDB floors, availability.

Run from the repository root:  .venv/bin/python -P bench/run.py [--api-workers N] [--smoke]
Waits for the machine to be quiet, starts its own mongod and two redis-servers in a temporary
directory, runs the API (uvicorn), the promoter and a worker as real processes with an SMTP
sink, drives the API with aiohttp, prints a Markdown table and writes it to bench/results.md.
`--smoke` runs it all at tiny sizes in seconds (the test suite does). See bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

# bench.* and tests.fakes live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx
from bson import ObjectId
from holdfast.accounts.service import create_or_reset_admin
from holdfast.availability.service import find_availability
from holdfast.bookings.guard import claim_ids
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.jobs.models import Job
from holdfast.settings import Settings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from bench.lab import (
    ADMIN_EMAIL,
    NO_RATE_LIMIT,
    PASSWORD,
    Admin,
    Headers,
    Oddities,
    Offer,
    Op,
    Probe,
    Quiet,
    Run,
    bench_parser,
    book,
    booking_body,
    bounded,
    counted,
    cpu_probe,
    expect,
    hammer,
    harness_context,
    holdfast,
    holdfast_api,
    http_client,
    load_client,
    log_summary,
    login,
    median_ratio,
    metered,
    offers,
    parse_options,
    positive,
    publish,
    quiet_note,
    register,
    row,
    smtp_sink,
    started,
    started_api,
    verdict,
    wait_for_quiet,
    wait_ready,
)
from bench.success import Sequential, SuccessFloor, confirmations, delivery_notes

RESULTS = Path(__file__).resolve().parent / "results.md"
READ_DAYS = 14
TARGET_RATIO, TARGET_SINGLE_READ_MS, TARGET_SUCCESS_RATIO = 3.0, 10.0, 3.0
DEFAULT_API_WORKERS = os.environ.get("BENCH_API_WORKERS", "2")  # `holdfast api --workers`
MAIL_PATIENCE = 60.0  # seconds to wait for the last confirmation after the success run

Db = AsyncDatabase[dict[str, Any]]
Read = Callable[[], Awaitable[int]]  # -> number of slots offered


@dataclass(frozen=True)
class Sizes:
    """How much each part does; each series stops at whichever limit it reaches first."""

    clients: int = 50  # concurrent booking clients, and concurrent floor tasks
    booking_requests: int = 1500
    booking_seconds: float = 15.0
    solo_limits: tuple[int, float] = (100, 3.0)  # one worker at a time on the full day
    read_requests: int = 300  # per availability series, sequential
    read_seconds: float = 10.0
    read_warmup: int = 5
    single_bookings: int = 200  # on the provider whose availability is also read alone
    multi_providers: int = 20  # every other reader gets multi_bookings_each
    multi_bookings_each: int = 20
    success_warmup: int = 20  # free-slot bookings before the timed ones, not timed
    success_bookings: int = 300  # timed, full stack; the floor does as many transactions
    success_bare: int = 150  # timed again with the promoter and the worker stopped
    success_rounds: int = 6  # the success path and its floor alternate in this many rounds


FULL = Sizes()
SMOKE = Sizes(
    clients=4, booking_requests=30, booking_seconds=3.0, solo_limits=(5, 1.0),
    read_requests=5, read_seconds=1.0, read_warmup=1, single_bookings=4, multi_providers=2,
    multi_bookings_each=2, success_warmup=2, success_bookings=6, success_bare=3, success_rounds=2,
)  # fmt: skip


@dataclass
class Findings:
    api_workers: int
    quiet: Quiet
    sizes: Sizes = FULL
    probes: dict[str, Probe] = field(default_factory=dict)  # groups whose CPU use is reported
    rows: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    odd: Oddities = field(default_factory=Oddities)


# ---------------------------------------------------------------- processes ------------


@dataclass(frozen=True)
class Stack:
    settings: Settings
    floor_url: str  # the same mongod, a database of its own
    success_floor_url: str  # ... and another for the success path's floor
    base_url: str
    root: Path  # the temporary directory: data and every process's log
    promoter: Server
    worker: Server
    probes: dict[str, Probe]  # groups of processes whose CPU use is reported


@contextmanager
def platform_stack(api_workers: int) -> Iterator[Stack]:
    """mongod, two redis-servers, an SMTP sink, the API process(es), the promoter and a
    worker, as in production; all stopped on the way out."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        queue, cache = (
            stack.enter_context(started(start_redis(root / name, free_port(), persist=False)))
            for name in ("queue-redis", "cache-redis")
        )
        sink = stack.enter_context(started(smtp_sink(root, free_port())))
        # No response cache: these rows measure the database path (bench/cache.py measures the
        # cache). The cache Redis still holds the rate limiter's counters, which one address
        # making every request would trip: so no rate limit either.
        settings = Settings(
            mongo_url=mongo_url(mongo.port, "bench"),
            queue_redis_url=redis_url(queue.port),
            secret_key=f"bench-secret-{secrets.token_hex(16)}",  # type: ignore[arg-type]
            smtp_url=f"smtp://127.0.0.1:{sink.port}",
            rate_limit_requests=NO_RATE_LIMIT,
            registrations_per_hour=NO_RATE_LIMIT,
        )
        api = stack.enter_context(
            started_api(holdfast_api(root, settings, free_port(), api_workers))
        )
        promoter = stack.enter_context(started(holdfast(root, settings, "promoter")))
        worker = stack.enter_context(started(holdfast(root, settings, "worker")))
        yield Stack(
            settings=settings,
            floor_url=mongo_url(mongo.port, "bench_floor"),
            success_floor_url=mongo_url(mongo.port, "bench_floor_success"),
            base_url=wait_ready(api, root / "api.log"),
            root=root,
            promoter=promoter,
            worker=worker,
            probes={
                "API": cpu_probe(api.pid, tree=True),  # uvicorn's supervisor and its workers
                "promoter": cpu_probe(promoter.pid),
                "worker": cpu_probe(worker.pid),
                "mongod": cpu_probe(mongo.pid),
                "redis": cpu_probe(queue.pid, cache.pid),
                "SMTP sink": cpu_probe(sink.pid),
                "bench client": cpu_probe(os.getpid()),
            },
        )


# ---------------------------------------------------------------- practice over HTTP ---


@dataclass(frozen=True)
class Catalog:
    contended: str  # the provider whose one day the booking clients fight over
    short: str  # 30 min, 15-min step, contended provider only
    long: str  # 60 min, 15-min step, contended provider only
    readers: list[str]  # `multi_providers` providers; readers[0] is also read alone
    consult: str  # 60 min, hourly, offered by every reader
    session: str  # 60 min, hourly, every reader, booked on free days by the success path


async def build_catalog(admin: Admin, readers: int) -> Catalog:
    contended = await admin.provider("Contended")
    providers = [await admin.provider(f"Reader {i:02}") for i in range(readers)]
    return Catalog(
        contended=contended,
        short=await admin.service("Short 30", 30, 15, [contended]),
        long=await admin.service("Long 60", 60, 15, [contended]),
        readers=providers,
        consult=await admin.service("Consult 60", 60, 60, providers),
        session=await admin.service("Session 60", 60, 60, providers),
    )


async def seed_reader_bookings(
    http: httpx.AsyncClient, catalog: Catalog, users: list[Headers], day: date, sizes: Sizes
) -> int:
    """`single_bookings` on readers[0], `multi_bookings_each` on each other reader, distinct."""
    chosen: list[Offer] = []
    for index, provider in enumerate(catalog.readers):
        free = await offers(http, catalog.consult, provider, day, READ_DAYS)
        chosen += random.sample(
            free, sizes.single_bookings if index == 0 else sizes.multi_bookings_each
        )
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
    sizes = found.sizes
    total, seconds = (
        (sizes.booking_requests, sizes.booking_seconds) if workers > 1 else sizes.solo_limits
    )
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
    """Both runs with `sizes.clients` workers, then one on the full day; the overlap checks."""
    pool = await offers(http, catalog.short, catalog.contended, day, 1)
    pool += await offers(http, catalog.long, catalog.contended, day, 1)
    found.facts.append(f"- Contended day {day}: {len(pool)} offered starts (30 + 60 min).")
    api = booking_op(load, pool, users, found.odd)
    await floor.prepare()
    found.rows += race_rows(
        await race(found.sizes.clients, api, floor, pool, found), "one provider-day"
    )
    found.rows += race_rows(await race(1, api, floor, pool, found), "day full (diagnostic)")
    found.rows.append(overlap_row("Overlap check, API database", await overlaps(app_db)))
    found.rows.append(overlap_row("Overlap check, floor database", await overlaps(floor.db)))


# ---------------------------------------------------------------- availability reads ---


@dataclass(frozen=True)
class ReadCase:
    label: str
    provider_id: str | None  # None: every provider of the service
    target_ms: float | None = None  # p50 target, in-process only


async def read_series(read: Read, found: Findings, where: str) -> tuple[Run, int]:
    """Warm up, then call `read` sequentially; the run and the slot count it saw."""
    slots = await read()
    sizes, odd = found.sizes, found.odd
    for _ in range(sizes.read_warmup - 1):
        await read()

    async def op(_: int) -> str:
        try:
            found = await read()
        except Exception as exc:  # reported, not raised: one failure should not end the run
            odd.note(where, type(exc).__name__, repr(exc))
            return type(exc).__name__
        return "ok" if found == slots else "slot count changed"

    return await hammer(op, workers=1, total=sizes.read_requests, seconds=sizes.read_seconds), slots


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
    load: aiohttp.ClientSession, ctx: Context, catalog: Catalog, day: date, found: Findings
) -> list[str]:
    cases = [
        ReadCase("1 provider", catalog.readers[0], TARGET_SINGLE_READ_MS),
        ReadCase(f"{len(catalog.readers)} providers", None),
    ]
    rows = []
    for case in cases:
        for how, read in (
            ("HTTP", http_reader(load, catalog.consult, case, day)),
            ("in-process", inprocess_reader(ctx, catalog.consult, case, day)),
        ):
            label = f"Availability {case.label}, {READ_DAYS} days, {how}"
            run, slots = await read_series(read, found, label)
            target = case.target_ms if how == "in-process" else None
            rows.append(read_row(label, run, slots, target))
    return rows


# ---------------------------------------------------------------- the success path -----


async def free_offers(
    http: httpx.AsyncClient, catalog: Catalog, day: date, count: int
) -> list[Offer]:
    """`count` free hourly starts of the session service from `day`, spread over the readers
    (round-robin), on days past the availability reads' window."""
    per_provider = -(-count // len(catalog.readers))
    days = -(-per_provider // 24)
    own = [
        (await offers(http, catalog.session, p, day, days))[:per_provider] for p in catalog.readers
    ]
    spread = [offer for by_hour in zip(*own, strict=False) for offer in by_hour]
    if len(spread) < count:
        raise RuntimeError(f"only {len(spread)} free starts from {day} for {count} bookings")
    return spread[:count]


async def success(
    stack: Stack, http: httpx.AsyncClient, load: aiohttp.ClientSession, catalog: Catalog,
    users: list[Headers], day: date, found: Findings,
) -> None:  # fmt: skip
    """Free slots booked one request at a time with the promoter and a worker delivering the
    confirmations meanwhile, and the bare transaction making the same writes, in alternating
    rounds (each round times its share of both, back to back, the two taking turns to go
    first, each after the worker has caught up), so that drift on the machine reaches both
    alike; then the same bookings again with the promoter and the worker stopped (a
    diagnostic)."""
    sizes = found.sizes
    total = sizes.success_warmup + sizes.success_bookings + sizes.success_bare
    sequential = Sequential(load, await free_offers(http, catalog, day, total), users, found.odd)
    where = "POST /api/bookings (free slot)"
    once = partial(hammer, workers=1, seconds=float("inf"))
    await once(sequential.op(where), total=sizes.success_warmup)
    warm = len(sequential.made)
    floor = SuccessFloor(AsyncMongoClient(stack.success_floor_url, tz_aware=True))
    booking, floored, rounds = Run(), Run(), Rounds()
    share = sizes.success_bookings // sizes.success_rounds
    try:
        await floor.prepare(sizes.success_bookings, datetime.combine(day, datetime.min.time(), UTC))
        sides = [
            ("booking", sequential.op(where), booking),
            ("floor", floor.op(found.odd), floored),
        ]
        for number in range(sizes.success_rounds):
            for side, op, into in sides if number % 2 == 0 else sides[::-1]:
                await caught_up()
                run, cpu = await metered(found.probes, once(op, total=share))
                into.absorb(run)
                rounds.add(side, run.p50(), cpu)
    finally:
        await floor.client.close()
    timed = sequential.made[warm:]
    delivered, missing = await confirmations(sequential.made, MAIL_PATIENCE)
    stack.worker.stop()
    stack.promoter.stop()
    bare, bare_cpu = await metered(
        found.probes, once(sequential.op(where), total=sizes.success_bare)
    )
    found.rows += success_rows(booking, floored, rounds, bare, delivered, missing)
    found.facts += [
        f"- Success path: {len(timed)} timed bookings of a 60-minute hourly service on "
        f"{len(catalog.readers)} providers from {day}, users round-robin, after "
        f"{warm} untimed, in {sizes.success_rounds} rounds of {share} bookings and {share} floor "
        "transactions (the floor writes into `bench_floor_success` with the product's indexes).",
        "- Success path, each round's p50 (ms): booking "
        + " ".join(f"{p50:.1f}" for p50 in rounds.p50s["booking"])
        + "; floor "
        + " ".join(f"{p50:.1f}" for p50 in rounds.p50s["floor"])
        + ".",
        f"- CPU, success run (full stack), first round: {rounds.cpu['booking'][0]}.",
        f"- CPU, success floor, first round: {rounds.cpu['floor'][0]}.",
        f"- CPU, success run with the promoter and the worker stopped: {bare_cpu}.",
    ]
    if missing:
        found.odd.note("confirmation email", "not sent", f"{missing} of {len(sequential.made)}")


@dataclass
class Rounds:
    """Each round's p50 and CPU use, per side."""

    p50s: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[str]] = field(default_factory=dict)

    def add(self, side: str, p50: float, cpu: str) -> None:
        self.p50s.setdefault(side, []).append(p50)
        self.cpu.setdefault(side, []).append(cpu)

    def ratio(self) -> float:
        """The judged ratio: the median over the rounds of the booking's p50 over the floor's
        in the same round."""
        return median_ratio(self.p50s["booking"], self.p50s["floor"])


def success_rows(
    booking: Run, floor: Run, rounds: Rounds, bare: Run, delivered: list[float], missing: int
) -> list[str]:
    ratio = rounds.ratio()
    bare_ratio = bare.p50() / floor.p50()
    others = len(booking.latencies) - booking.count("201")
    failed = len(floor.latencies) - floor.count("committed")
    return [
        row(
            "POST /api/bookings, 1 client, free slot, API + promoter + worker",
            booking, f"201: {booking.count('201')}, other: {others}; one request at a time",
        ),
        row(
            "Floor: bare MongoDB transaction, 12 claims + booking + event + 2 jobs",
            floor, f"committed: {floor.count('committed')}, errors: {failed}",
        ),
        row(
            "Ratio booking p50 / floor p50, success path", None,
            f"{ratio:.1f}x (median of {len(rounds.p50s['booking'])} rounds' ratios; target <= "
            f"{TARGET_SUCCESS_RATIO:g}x: {verdict(ratio <= TARGET_SUCCESS_RATIO)}); over all "
            f"rounds {booking.p50() / floor.p50():.1f}x",
        ),
        row(
            "Confirmation: booking made -> email accepted by SMTP (server clocks)", None,
            f"{len(delivered)} sent; {delivery_notes(delivered, missing)} "
            f"({verdict(missing == 0)})",
        ),
        row(
            "POST /api/bookings, 1 client, free slot, promoter + worker stopped (diagnostic)",
            bare, f"201: {bare.count('201')}; p50 {bare_ratio:.1f}x the floor's",
        ),
    ]  # fmt: skip


# ---------------------------------------------------------------- report ---------------


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


def render(found: Findings, logs: list[str]) -> str:
    odd = found.odd
    surprises = [f"- {n} x {key}; first: `{odd.first[key]}`" for key, n in odd.counts.most_common()]
    if found.quiet.gave_up:
        surprises.insert(0, f"- {quiet_note(found.quiet)}.")
    smoke = " SMOKE RUN (tiny sizes: the figures mean nothing)." if found.sizes != FULL else ""
    return "\n".join(
        [
            "# Holdfast benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, API `holdfast api --workers {found.api_workers}` with "
            "`holdfast promoter` and `holdfast worker` running, "
            f"load from aiohttp {aiohttp.__version__}; {quiet_note(found.quiet)}. "
            f"Latencies in ms, client-side except in-process rows.{smoke}",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *found.rows,
            "",
            *found.facts,
            "",
            "Unexpected outcomes (non-201/409 bookings, failed reads, confirmations not sent, "
            "log warnings/errors):",
            "",
            *(surprises + logs or ["- none"]),
            "",
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def practice(
    http: httpx.AsyncClient, ctx: Context, sizes: Sizes = FULL
) -> tuple[Catalog, list[Headers]]:
    """Admin (service function), catalog and client accounts (HTTP); not timed."""
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    catalog = await build_catalog(
        Admin(http, await login(http, ADMIN_EMAIL)), sizes.multi_providers
    )
    users = await bounded(
        [register(http, f"client{i}@bench.example") for i in range(sizes.clients)]
    )
    return catalog, users


async def caught_up(patience: float = 120.0) -> None:
    """Wait until the worker has run every job already due (the confirmations of what was just
    booked), so that a timed part does not share the two cores with the catch-up of the part
    before it; the success path itself still runs beside its own deliveries, as in production."""
    open_states = ["scheduled", "promoted", "running", "retry_wait"]
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        due = {"state": {"$in": open_states}, "run_at": {"$lte": datetime.now(UTC)}}
        if not await Job.get_pymongo_collection().count_documents(due):
            return
        await asyncio.sleep(0.2)


async def measure(stack: Stack, found: Findings) -> None:
    ctx = await harness_context(stack.settings)
    http = http_client(stack.base_url)
    load = load_client(stack.base_url)
    try:
        catalog, users = await practice(http, ctx, found.sizes)
        day = datetime.now(UTC).date() + timedelta(days=1)
        seeded = await seed_reader_bookings(http, catalog, users, day, found.sizes)
        found.facts.append(
            f"- Seeded {seeded} bookings on {len(catalog.readers)} readers from {day}."
        )
        floor = Floor(AsyncMongoClient(stack.floor_url, tz_aware=True))
        await caught_up()
        try:
            await contention(http, load, ctx.db, floor, catalog, users, day, found)
        finally:
            await floor.client.close()
        await caught_up()
        found.rows += await availability(load, ctx, catalog, day, found)
        # Past the reads' window, so that those bookings change nothing they read.
        await caught_up()
        await success(stack, http, load, catalog, users, day + timedelta(days=READ_DAYS), found)
    finally:
        await load.close()
        await http.aclose()
        await close_context(ctx)


def arguments(argv: Sequence[str] | None) -> Any:
    parser = bench_parser(__doc__, RESULTS)
    parser.add_argument(
        "--api-workers", type=positive, default=DEFAULT_API_WORKERS, metavar="N",
        help="API processes, `holdfast api --workers N` (default: $BENCH_API_WORKERS or 2)",
    )  # fmt: skip
    return parse_options(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = arguments(argv)
    quiet = wait_for_quiet(options.max_load, options.max_wait)
    sizes = SMOKE if options.smoke else FULL
    began, found = time.perf_counter(), Findings(options.api_workers, quiet, sizes)
    with platform_stack(options.api_workers) as stack:
        found.probes.update(stack.probes)
        asyncio.run(measure(stack, found))
        logs = [
            line for name in ("api", "promoter", "worker") for line in log_summary(stack.root, name)
        ]
        report = render(found, logs)
    publish(options, report + f"\nWhole run: {time.perf_counter() - began:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
