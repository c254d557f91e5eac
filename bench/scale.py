"""Holdfast scale benchmark: the same requests on an empty database and after years of history.

Run from the repository root:  .venv/bin/python -P bench/scale.py [--years N] [--smoke]
Starts its own mongod, redis-servers and two `holdfast api` processes (one process each, no
response cache) in a temporary directory: one on an empty database, one on a database that gets
the history, both in the same mongod. Builds the same clinic over HTTP in each (50 practitioners
open 08:00-20:00 UTC every day, a 30-minute service), writes five years of history straight into
the second with bulk inserts (about 1.8 M bookings with their claim units, audit events, jobs and
messages, shaped by the product's own models and functions), then measures booking,
availability, a promoter tick and the admin's bookings list on both, in alternating rounds, with
the storage used.
Prints a Markdown table and writes it to bench/scale_results.md; `--smoke` runs it at tiny sizes
in seconds. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# bench.* and tests.fakes live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.passwords import Passwords
from holdfast.accounts.service import create_or_reset_admin, email_key
from holdfast.bookings.followups import subject
from holdfast.bookings.guard import claim_ids
from holdfast.bookings.models import Booking, BookingEvent
from holdfast.catalog.models import Provider, Service
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.jobs.registry import default_registry
from holdfast.jobs.service import job_id, new_job
from holdfast.notifications.compose import BookingFacts, Recipient, message_id, render
from holdfast.settings import Settings
from pydantic import SecretStr
from pymongo import MongoClient

from bench.lab import (
    ADMIN_EMAIL,
    NO_RATE_LIMIT,
    PASSWORD,
    Admin,
    Headers,
    Quiet,
    Run,
    bench_parser,
    booking_body,
    bounded,
    expect,
    hammer,
    harness_context,
    holdfast_api,
    http_client,
    load_client,
    log_summary,
    login,
    median_ratio,
    offers,
    parse_options,
    percentiles,
    positive,
    publish,
    quiet_note,
    register,
    started,
    started_api,
    verdict,
    wait_for_quiet,
    wait_ready,
)
from promoter.loop import PromoterState, tick

RESULTS = Path(__file__).resolve().parent / "scale_results.md"
HOURS = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)]
MINUTES = 30  # the service: 24 half-hour slots a day per practitioner
CANCELLED = 0.05  # share of history cancelled (claims freed, a notice sent)
TARGET = 1.2  # every latency with history within 1.2x of the empty database's
SEED = 20_240_601
MB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    years: float = 5.0
    providers: int = 50
    per_day: int = 20  # bookings per practitioner per day of history (of 24 slots)
    clients: int = 2000  # client accounts the history's bookings belong to
    batch: int = 2000  # bookings per bulk insert round
    # Timed bookings per database, and as many list calls (made after every booking: both
    # databases then hold the same upcoming bookings, more than the list's first page).
    bookings: int = 200
    reads: int = 100  # timed availability reads
    ticks: int = 60  # timed promoter ticks
    users: int = 10  # registered over HTTP, who make the timed bookings
    # Each measurement is split into this many rounds, each timing the two databases back to
    # back (in turn first): every count above is a multiple of it.
    rounds: int = 10


FULL = Sizes()
SMOKE = Sizes(
    years=3 / 365, providers=2, per_day=20, clients=10, batch=50, bookings=4, reads=4, ticks=4,
    users=2, rounds=2,
)  # fmt: skip
STATES = {"empty": "bench_scale_empty", "history": "bench_scale"}  # state -> database


# ---------------------------------------------------------------- processes ------------


@dataclass(frozen=True)
class Endpoint:
    """One database state's `holdfast api` and the settings it runs with."""

    settings: Settings
    base_url: str


@dataclass(frozen=True)
class Scaled:
    endpoints: dict[str, Endpoint]  # by state (STATES)
    root: Path


@contextmanager
def api_stack(cache_gb: float) -> Iterator[Scaled]:
    """mongod (its WiredTiger cache `cache_gb`) and, for each database state, a queue
    redis-server and `holdfast api --workers 1` on that state's database, without a response
    cache (every request is served from MongoDB, which is what history could slow down)."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-scale-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        with MongoClient("127.0.0.1", mongo.port, directConnection=True) as admin:
            # holdfast.embedded's 0.25 GB suits development; a server keeping years of
            # history has the cache mongod gives itself (half its memory less 1 GB).
            admin.admin.command(
                "setParameter",
                1,
                wiredTigerEngineRuntimeConfig=f"cache_size={round(cache_gb * 1024)}M",
            )
        endpoints = {}
        for state, database in STATES.items():
            queue = stack.enter_context(
                started(start_redis(root / f"queue-{state}", free_port(), persist=False))
            )
            settings = Settings(
                mongo_url=mongo_url(mongo.port, database),
                queue_redis_url=redis_url(queue.port),
                secret_key=SecretStr(f"bench-scale-secret-{os.urandom(16).hex()}"),
                rate_limit_requests=NO_RATE_LIMIT,
                registrations_per_hour=NO_RATE_LIMIT,
            )
            api = stack.enter_context(started_api(holdfast_api(root, settings, free_port())))
            endpoints[state] = Endpoint(settings, wait_ready(api, root / "api.log"))
        yield Scaled(endpoints, root)


# ---------------------------------------------------------------- the clinic -----------


@dataclass(frozen=True)
class Clinic:
    admin: Headers
    service: str
    providers: list[str]
    users: list[Headers]


async def clinic(http: Any, ctx: Context, sizes: Sizes) -> Clinic:
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    admin = Admin(http, await login(http, ADMIN_EMAIL))
    providers = []
    for i in range(sizes.providers):
        made = await http.post(
            "/api/admin/providers", json={"name": f"Practitioner {i:02}", "timezone": "UTC"},
            headers=admin.headers,
        )  # fmt: skip
        pid = str(expect(made, 201)["id"])
        hours = await http.put(
            f"/api/admin/providers/{pid}/availability", json={"rules": HOURS},
            headers=admin.headers,
        )  # fmt: skip
        expect(hours, 200)
        providers.append(pid)
    service = await admin.service("Session 30", MINUTES, MINUTES, providers)
    users = await bounded([register(http, f"scale{i}@bench.example") for i in range(sizes.users)])
    return Clinic(admin.headers, service, providers, users)


# ---------------------------------------------------------------- measurements ---------


Op = Callable[[int], Awaitable[str]]


def http_op(
    load: aiohttp.ClientSession, method: str, path: str, make: Callable[[int], dict[str, Any]]
) -> Op:
    """A `hammer` op: one request, its arguments from `make(call number)`; the status."""
    calls = 0

    async def op(_: int) -> str:
        nonlocal calls
        calls += 1
        async with load.request(method, path, **make(calls - 1)) as response:
            await response.read()
        return str(response.status)

    return op


def admin_bookings_page(load: aiohttp.ClientSession, admin: Headers) -> Op:
    """The admin's bookings list as the API serves it: GET /api/bookings as the admin, its
    first page (upcoming first, by start). Kept in one place."""
    return http_op(load, "GET", "/api/bookings", lambda _: {"headers": admin})


@dataclass
class State:
    """One database state: its connections and clinic, then its figures (latencies by
    measurement, every round's p50 in ms, and the storage used)."""

    name: str
    ctx: Context
    http: Any
    load: aiohttp.ClientSession
    clinic: Clinic | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    rounds: dict[str, list[float]] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)


async def operations(state: State, sizes: Sizes, first_day: date) -> dict[str, tuple[Op, int]]:
    """Each measurement's op on this state and how many calls it gets: sequential bookings of
    free slots from `first_day`, availability reads of one practitioner's fortnight (a window
    no timed booking touches), promoter ticks and admin list calls."""
    http, load, ctx, found = state.http, state.load, state.ctx, state.clinic
    assert found is not None
    slots = []
    for provider in found.providers:
        slots += (await offers(http, found.service, provider, first_day, 2))[: sizes.bookings]
    slots.sort(key=lambda o: (o.start, o.provider_id))
    bodies = [booking_body(offer) for offer in slots[: sizes.bookings]]
    users = found.users
    book = http_op(
        load, "POST", "/api/bookings",
        lambda i: {"json": bodies[i], "headers": users[i % len(users)]},
    )  # fmt: skip
    window = str(first_day + timedelta(days=20))
    query = {"service_id": found.service, "provider_id": found.providers[0], "from": window}
    read = http_op(load, "GET", "/api/availability", lambda _: {"params": {**query, "days": "14"}})

    registry = default_registry(ctx.settings)

    async def promoter_tick(_: int) -> str:
        # A fresh state each time: the tick that also repairs, the most it ever does.
        await tick(ctx, PromoterState(), datetime.now(UTC), registry)
        return "ok"

    return {
        "booking": (book, len(bodies)),
        "availability": (read, sizes.reads),
        "promoter tick": (promoter_tick, sizes.ticks),
        "admin list": (admin_bookings_page(load, found.admin), sizes.bookings),
    }


async def measure(states: list[State], sizes: Sizes, first_day: date) -> None:
    """Every measurement in `sizes.rounds` rounds, one after the other (the lists after every
    booking); each round times its share of calls on each state back to back, one call at a
    time, the states taking turns to go first. Drift on the machine then reaches both alike."""
    ops = {state.name: await operations(state, sizes, first_day) for state in states}
    for key in ops[states[0].name]:
        for number in range(sizes.rounds):
            for state in states if number % 2 == 0 else states[::-1]:
                op, total = ops[state.name][key]
                run = await hammer(op, workers=1, total=total // sizes.rounds, seconds=math.inf)
                state.runs.setdefault(key, Run()).absorb(run)
                state.rounds.setdefault(key, []).append(run.p50())
    for state in states:
        state.storage = await storage(state.ctx)


async def storage(ctx: Context) -> dict[str, Any]:
    stats = await ctx.db.command("dbStats")
    counts = {
        name: await ctx.db[name].estimated_document_count()
        for name in ("bookings", "slot_claims", "booking_events", "jobs", "messages", "users")
    }
    return {
        "data": stats["dataSize"], "disk": stats["storageSize"], "indexes": stats["indexSize"],
        "counts": counts,
    }  # fmt: skip


# ---------------------------------------------------------------- history --------------


@dataclass(frozen=True)
class Templates:
    """One document of each kind as the product writes it; history varies their fields."""

    booking: dict[str, Any]
    event: dict[str, Any]
    job: dict[str, Any]
    messages: dict[str, dict[str, Any]]  # template name -> an email as the worker stores it
    clients: list[tuple[PydanticObjectId, str]]  # id, email


async def templates(ctx: Context, found: Clinic, sizes: Sizes) -> Templates:
    """Templates from the product's models, rendered messages from its own composer, and the
    history's client accounts (inserted here, all with one argon2 hash)."""
    now = datetime.now(UTC)
    password = await Passwords().hash(PASSWORD)
    clients = [
        User(
            id=PydanticObjectId(), email=f"history{i}@bench.example",
            email_key=email_key(f"history{i}@bench.example"), name=f"Client {i}",
            timezone="Europe/London", password_hash=password, created_at=now,
        )
        for i in range(sizes.clients)
    ]  # fmt: skip
    await User.get_pymongo_collection().insert_many([c.model_dump(by_alias=True) for c in clients])
    provider = await Provider.get(PydanticObjectId(found.providers[0]))
    service = await Service.get(PydanticObjectId(found.service))
    assert provider is not None and service is not None
    booking = Booking(
        id=PydanticObjectId(), user_id=clients[0].id, provider_id=provider.id,  # type: ignore[arg-type]
        service_id=service.id, start=now, end=now + timedelta(minutes=MINUTES),  # type: ignore[arg-type]
        occupied_start=now, occupied_end=now + timedelta(minutes=MINUTES), status="confirmed",
        created_at=now, updated_at=now,
    )  # fmt: skip
    event = BookingEvent(
        booking_id=booking.id, at=now, action="created", from_status=None, to_status="confirmed",  # type: ignore[arg-type]
        actor=str(clients[0].id), data={"source": "web", "start": now, "end": now},
    )  # fmt: skip
    job = new_job(kind="notify.confirmation", subject=subject(booking), run_at=now, now=now)
    facts = BookingFacts(booking, clients[0], provider, service)
    person = Recipient(clients[0].name, clients[0].email, None, clients[0].timezone)
    messages = {
        template: render(ctx, facts, person, template, job.id)[0].model_dump(by_alias=True)
        for template in ("confirmation", "reminder", "cancellation")
    }
    return Templates(
        booking=booking.model_dump(by_alias=True),
        event=event.model_dump(by_alias=True, exclude={"id"}),
        job={**job.model_dump(by_alias=True), "state": "succeeded", "attempts": 1},
        messages={k: {**m, "status": "sent", "attempts": 1} for k, m in messages.items()},
        clients=[(c.id, c.email) for c in clients],  # type: ignore[misc]
    )


Docs = dict[str, list[dict[str, Any]]]  # collection -> documents


def history_of(
    t: Templates, provider: str, start: datetime, rng: random.Random, docs: Docs
) -> None:
    """One past booking and everything the product wrote for it, added to `docs`."""
    end = start + timedelta(minutes=MINUTES)
    made = start - timedelta(days=rng.uniform(1, 30))
    client, email = t.clients[rng.randrange(len(t.clients))]
    cancelled = rng.random() < CANCELLED
    booking_id = PydanticObjectId()
    about = subject(Booking.model_construct(id=booking_id))
    provider_id = PydanticObjectId(provider)
    docs["bookings"].append({
        **t.booking, "_id": booking_id, "user_id": client, "provider_id": provider_id,
        "start": start, "end": end, "occupied_start": start, "occupied_end": end,
        "status": "cancelled" if cancelled else "confirmed", "created_at": made,
        "updated_at": made + (start - made) / 2 if cancelled else made,
    })  # fmt: skip
    window = {"start": start, "end": end, "source": "web"}
    docs["booking_events"].append(
        {**t.event, "_id": PydanticObjectId(), "booking_id": booking_id, "at": made,
         "actor": str(client), "data": window}
    )  # fmt: skip
    sends = [("notify.confirmation", "confirmation", made, made)]  # kind, template, run, intended
    if cancelled:
        gone = made + (start - made) / 2
        docs["booking_events"].append(
            {**t.event, "_id": PydanticObjectId(), "booking_id": booking_id, "at": gone,
             "action": "cancelled", "from_status": "confirmed", "to_status": "cancelled",
             "actor": str(client), "data": window}
        )  # fmt: skip
        sends.append(("notify.cancellation", "cancellation", gone, gone))
    else:
        docs["slot_claims"] += [
            {"_id": claim, "booking_id": booking_id} for claim in claim_ids(provider, start, end)
        ]
        reminder = start - timedelta(hours=24)
        sends.append(("notify.reminder", "reminder", reminder, reminder))
    for kind, template, run_at, intended in sends:
        job = job_id(kind, about, intended)
        docs["jobs"].append({
            **t.job, "_id": job, "kind": kind, "subject": about,
            "payload": {"booking_id": str(booking_id)}, "run_at": run_at, "created_at": made,
            "updated_at": run_at, "promoted_at": run_at, "started_at": run_at,
            "finished_at": run_at,
        })  # fmt: skip
        docs["messages"].append({
            **t.messages[template], "_id": message_id(job, "email", email), "job_id": job,
            "booking_id": str(booking_id), "to": email, "created_at": run_at,
            "updated_at": run_at, "sent_at": run_at,
        })  # fmt: skip


def past_slots(sizes: Sizes, providers: list[str], today: date) -> Iterator[tuple[str, datetime]]:
    """(provider, start) of every booking of the history: `per_day` of each practitioner's 24
    half-hour slots, every day of the past `years`, oldest first."""
    rng = random.Random(SEED)
    days = round(sizes.years * 365)
    for back in range(days, 0, -1):
        midnight = datetime.combine(today - timedelta(days=back), datetime.min.time(), UTC)
        for provider in providers:
            for slot in sorted(rng.sample(range(24), sizes.per_day)):
                yield provider, midnight + timedelta(hours=8, minutes=MINUTES * slot)


async def seed_history(ctx: Context, found: Clinic, sizes: Sizes) -> tuple[dict[str, int], float]:
    """Bulk inserts, collection by collection, `batch` bookings at a time; how many of each
    were written, and the seconds it took."""
    began, written = (
        time.perf_counter(),
        dict.fromkeys(("bookings", "slot_claims", "booking_events", "jobs", "messages"), 0),
    )
    t = await templates(ctx, found, sizes)
    rng = random.Random(SEED + 1)
    docs: Docs = {name: [] for name in written}
    inflight: asyncio.Task[None] | None = None

    async def flush(batch: Docs) -> None:
        await asyncio.gather(
            *(ctx.db[name].insert_many(rows, ordered=False) for name, rows in batch.items() if rows)
        )
        for name, rows in batch.items():
            written[name] += len(rows)

    today = datetime.now(UTC).date()
    for count, (provider, start) in enumerate(past_slots(sizes, found.providers, today), 1):
        history_of(t, provider, start, rng, docs)
        if count % sizes.batch == 0:
            if inflight is not None:
                await inflight  # one batch in flight while the next is built
            inflight = asyncio.create_task(flush(docs))
            docs = {name: [] for name in written}
    if inflight is not None:
        await inflight
    await flush(docs)
    return written, time.perf_counter() - began


# ---------------------------------------------------------------- report ---------------


LABELS = {
    "booking": "POST /api/bookings (free slot, one at a time)",
    "availability": "GET /api/availability (one practitioner, 14 days)",
    "promoter tick": "Promoter tick, in-process (with its repair pass)",
    "admin list": "GET /api/bookings as the admin (today's list)",
}


def span(years: float) -> str:
    return f"{years:g} years" if years >= 1 else f"{round(years * 365)} days"


def ratio(empty: State, full: State, key: str) -> float:
    """The judged ratio: the median over the rounds of the history's p50 over the empty
    database's in the same round (measured back to back)."""
    return median_ratio(full.rounds[key], empty.rounds[key])


def state_rows(empty: State, full: State, years: float) -> list[str]:
    rows = []
    for key, text in LABELS.items():
        judged = ratio(empty, full, key)
        for state in (empty, full):
            run = state.runs[key]
            p50, p99 = percentiles(run.latencies)
            notes = f"outcomes { ({k: len(v) for k, v in run.by_outcome.items()}) }"
            if state is full:
                notes = (
                    f"{judged:.2f}x the empty database's p50 (median of {len(state.rounds[key])} "
                    f"rounds' ratios; target <= {TARGET:g}x: {verdict(judged <= TARGET)}); {notes}"
                )
            rows.append(
                f"| {'Empty database' if state is empty else f'With {span(years)}'}: {text} "
                f"| {len(run.latencies)} | {run.rate:.0f} | {p50:.1f} | {p99:.1f} | {notes} |"
            )
    return rows


def round_notes(empty: State, full: State) -> list[str]:
    def p50s(state: State, key: str) -> str:
        return " ".join(f"{p50:.1f}" for p50 in state.rounds[key])

    return [
        f"- {key}, each round's p50 (ms): empty {p50s(empty, key)}; with history {p50s(full, key)}."
        for key in LABELS
    ]


def storage_row(state: State, label: str) -> str:
    s = state.storage
    counts = ", ".join(f"{name} {n:,}" for name, n in s["counts"].items())
    return (
        f"| {label} | | | | | data {s['data'] / MB:,.1f} MB, on disk {s['disk'] / MB:,.1f} MB, "
        f"indexes {s['indexes'] / MB:,.1f} MB; {counts} |"
    )


def render_report(
    sizes: Sizes, quiet: Quiet, rows: list[str], facts: list[str], logs: list[str], smoke: bool
) -> str:
    note = " SMOKE RUN (tiny sizes: the figures mean nothing)." if smoke else ""
    return "\n".join(
        [
            "# Holdfast scale benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, `holdfast api --workers 1` without a response cache; "
            f"{sizes.providers} practitioners, {span(sizes.years)} of history at "
            f"{sizes.per_day} bookings a day each; {quiet_note(quiet)}. Latencies in ms, "
            f"client-side (the promoter tick in-process), one request at a time; the two "
            f"databases share one mongod and are measured in {sizes.rounds} alternating "
            f"rounds.{note}",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            *facts,
            "",
            "Log warnings and errors:",
            "",
            *(logs or ["- none"]),
            "",
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def settle(ctx: Context, limit: float, patience: float) -> Quiet:
    """After the bulk load: have mongod write everything out (`fsync` forces a checkpoint of
    the gigabytes just inserted) and wait for the machine to be quiet again, so that the
    second measurement is of a database with history, not of one still flushing it."""
    await ctx.mongo.admin.command("fsync")
    return await asyncio.to_thread(wait_for_quiet, limit, patience)


async def scale(
    scaled: Scaled, sizes: Sizes, quiet: tuple[float, float]
) -> tuple[list[str], list[str]]:
    states = []
    try:
        for name, endpoint in scaled.endpoints.items():
            state = State(
                name, await harness_context(endpoint.settings), http_client(endpoint.base_url),
                load_client(endpoint.base_url),
            )  # fmt: skip
            states.append(state)
            state.clinic = await clinic(state.http, state.ctx, sizes)
        empty, full = states
        assert full.clinic is not None
        written, seconds = await seed_history(full.ctx, full.clinic, sizes)
        settled = await settle(full.ctx, *quiet)
        await measure(states, sizes, datetime.now(UTC).date() + timedelta(days=1))
    finally:
        for state in states:
            await state.load.close()
            await state.http.aclose()
            await close_context(state.ctx)
    total = sum(written.values())
    rows = [
        *state_rows(empty, full, sizes.years),
        f"| Seed: history written with bulk inserts | {total:,} | {total / seconds:,.0f} | | | "
        f"{seconds:.0f} s; {', '.join(f'{k} {v:,}' for k, v in written.items())} |",
        storage_row(empty, "Storage, empty database"),
        storage_row(full, f"Storage, with {span(sizes.years)}"),
    ]
    per_round = sizes.bookings // sizes.rounds, sizes.reads // sizes.rounds
    ticks = sizes.ticks // sizes.rounds
    facts = [
        f"- History: {written['bookings']:,} past bookings ({CANCELLED:.0%} cancelled, their "
        "claims freed and a notice sent), each with its claim units, audit events, its "
        "confirmation, reminder (or cancellation) job and email; written oldest first.",
        "- Both databases get the same clinic, the same timed bookings (free slots from "
        "tomorrow) and the same reads; the availability reads ask a fortnight no timed booking "
        "touches, and the lists come after every booking, so both list the same rows.",
        f"- After the seed, an `fsync` (a checkpoint of everything written) and "
        f"{settled.waited:.0f} s of waiting for a 1-min load average below {settled.limit:g} "
        f"(it was {settled.load:.2f}) before the measurements.",
        f"- Each of the {sizes.rounds} rounds times {per_round[0]} bookings, {per_round[1]} "
        f"reads, {ticks} ticks or {per_round[0]} list calls on one database, then on the other "
        "(the first in turn); the verdict is on the median of the rounds' ratios.",
        *round_notes(empty, full),
    ]
    return rows, facts


def arguments(argv: Sequence[str] | None) -> Any:
    parser = bench_parser(__doc__, RESULTS)
    parser.add_argument("--years", type=float, metavar="N", help="years of history (5)")
    parser.add_argument("--providers", type=positive, metavar="N", help="practitioners (50)")
    parser.add_argument(
        "--mongo-cache-gb", type=float, default=1.5, metavar="G",
        help="mongod's WiredTiger cache (1.5: what mongod takes on a 4 GB server)",
    )  # fmt: skip
    return parse_options(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = arguments(argv)
    base = SMOKE if options.smoke else FULL
    sizes = Sizes(
        **{
            **base.__dict__,
            "years": options.years or base.years,
            "providers": options.providers or base.providers,
        }
    )
    quiet = wait_for_quiet(options.max_load, options.max_wait)
    began = time.perf_counter()
    with api_stack(options.mongo_cache_gb) as scaled:
        rows, facts = asyncio.run(scale(scaled, sizes, (options.max_load, options.max_wait)))
        facts.append(
            f"- mongod's WiredTiger cache: {options.mongo_cache_gb:g} GB (`--mongo-cache-gb`)."
        )
        logs = log_summary(scaled.root, "api")
    report = render_report(sizes, quiet, rows, facts, logs, options.smoke)
    publish(options, report + f"\nWhole run: {time.perf_counter() - began:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
