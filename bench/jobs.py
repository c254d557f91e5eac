"""Holdfast jobs benchmark: backlog memory, promoter throughput, commit-to-SMTP latency.

Run from the repository root:  .venv/bin/python -P bench/jobs.py [--backlog N] [--bookings N]
Starts its own mongod and redis-servers in a temporary directory; the latency part also runs
the API, `holdfast promoter` and `holdfast worker` as real processes against an SMTP sink in
this process. Before each timed part it waits for the machine to be quiet. Prints a Markdown
table and writes it to bench/jobs_results.md; `--smoke` runs it at tiny sizes in seconds.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

# bench.* and tests.fakes live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session
from arq.connections import ArqRedis
from arq.constants import default_queue_name
from holdfast.accounts.service import create_or_reset_admin
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.jobs.handoff import enqueue, promote_due
from holdfast.jobs.models import Heartbeat, Job
from holdfast.jobs.service import job_id
from holdfast.settings import Settings
from pydantic import SecretStr
from redis.asyncio import Redis

from bench.lab import (
    ADMIN_EMAIL,
    NO_RATE_LIMIT,
    PASSWORD,
    Admin,
    Oddities,
    Offer,
    Quiet,
    bench_parser,
    book,
    bounded,
    harness_context,
    holdfast,
    holdfast_api,
    http_client,
    log_summary,
    login,
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
from tests.fakes import SmtpSink

RESULTS = Path(__file__).resolve().parent / "jobs_results.md"
REMINDER = "notify.reminder"
BACKLOG, BATCH = 1_000_000, 10_000  # future reminders, inserted insert_many batch by batch
HORIZON, WINDOW = timedelta(days=365), timedelta(minutes=10)  # spread; the promoter's window
NAIVE_CHUNK = 500  # concurrent enqueue_job calls
NAIVE_SAMPLE, NAIVE_BUDGET = 200_000, 180.0  # past the sample, go on only if 1M fits the budget
BOOKINGS = 200
MAIL_TIMEOUT, SETTLE = 30.0, 2.0  # seconds: one email's wait; the wait for late doubles
TARGET_P50_MS = 50.0
SEED = 20_240_601
MB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    due: int = 20_000  # jobs made due at once, for each promoter throughput run
    warmup: int = 5  # bookings before the timed ones
    providers: int = 20


FULL = Sizes()
SMOKE = Sizes(due=200, warmup=1, providers=2)
SMOKE_BACKLOG, SMOKE_BOOKINGS = 2_000, 3

T = TypeVar("T")
Check = Callable[[], Awaitable[object]]  # polled until what it returns is true


# ---------------------------------------------------------------- report ---------------


@dataclass
class Report:
    max_load: float
    max_wait: float
    sizes: Sizes = FULL
    failed: bool = False  # a part raised: the run's exit status says so
    rows: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    quiets: list[tuple[str, Quiet]] = field(default_factory=list)
    odd: Oddities = field(default_factory=Oddities)
    logs: list[str] = field(default_factory=list)

    async def wait_quiet(self, before: str) -> None:
        """Block (off the event loop) until the machine is quiet enough to time `before`."""
        quiet = await asyncio.to_thread(wait_for_quiet, self.max_load, self.max_wait)
        self.quiets.append((before, quiet))
        print(f"timing {before} ({quiet_note(quiet)})", file=sys.stderr, flush=True)

    def row(self, name: str, jobs: int | None, result: str, notes: str) -> None:
        count = "" if jobs is None else f"{jobs:,}"
        self.rows.append(f"| {name} | {count} | {result} | {notes} |")

    def tail(self, seconds: float, unexpected: str) -> list[str]:
        """The lines below the table: the facts, the load average before each timed part, the
        unexpected outcomes (`unexpected` says which kinds) and the run's duration."""
        odd = self.odd
        surprises = [f"- {quiet_note(q)} ({what})." for what, q in self.quiets if q.gave_up]
        surprises += [f"- {n} x {key}; first: `{odd.first[key]}`" for key, n in odd.counts.items()]
        return [
            *self.facts,
            *(f"- Before {what}: {quiet_note(q)}." for what, q in self.quiets if not q.gave_up),
            "",
            f"Unexpected outcomes ({unexpected}):",
            "",
            *(surprises + self.logs or ["- none"]),
            "",
            f"Whole run: {seconds:.0f} s.",
            "",
        ]


def megabytes(size: float) -> str:
    return f"{size / MB:,.1f} MB"


def render(report: Report, seconds: float) -> str:
    return "\n".join(
        [
            "# Holdfast jobs benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}; each timed part waited for a 1-min load average below "
            f"{report.max_load:g} (for at most {report.max_wait:g} s, see below)."
            + (
                " SMOKE RUN (tiny sizes: the figures mean nothing)." if report.sizes != FULL else ""
            ),
            "",
            "| Measurement | Jobs | Result | Notes |",
            "|---|---:|---|---|",
            *report.rows,
            "",
            *report.tail(seconds, "errors, lost or doubled jobs and emails, log warnings/errors"),
        ]
    )


# ---------------------------------------------------------------- servers --------------


@dataclass
class Lab:
    """The temporary directory, one mongod, and whatever else is started under `stack`."""

    root: Path
    mongo: Server
    secret: str = field(default_factory=lambda: f"bench-jobs-secret-{os.urandom(16).hex()}")

    def redis(self, stack: ExitStack, name: str) -> Server:
        return stack.enter_context(
            started(start_redis(self.root / name, free_port(), persist=False))
        )

    def settings(self, database: str, queue: Server, **extra: Any) -> Settings:
        return Settings(
            mongo_url=mongo_url(self.mongo.port, database),
            queue_redis_url=redis_url(queue.port),
            secret_key=SecretStr(self.secret),
            **extra,
        )


async def used_memory(url: str) -> int:
    """The Redis INFO memory `used_memory`, over a connection of its own."""
    client = Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def queued(url: str) -> int:
    """How many jobs arq's default queue holds."""
    client = Redis.from_url(url)
    try:
        return int(await client.zcard(default_queue_name))
    finally:
        await client.aclose()


async def poll(check: Check, patience: float, every: float = 0.05) -> bool:
    """Await `check()` until it is true or `patience` seconds pass; whether it became true."""
    deadline = time.monotonic() + patience
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


# ---------------------------------------------------------------- backlog --------------


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def reminders(
    count: int, start: datetime, prefix: str = "booking"
) -> Iterator[tuple[str, datetime]]:
    """(subject, run_at): the same every call, spread uniformly over HORIZON from `start`."""
    rng = random.Random(SEED)
    span = HORIZON.total_seconds()
    for i in range(count):
        yield (
            f"{prefix}:{i}",
            (start + timedelta(seconds=rng.uniform(0, span))).replace(microsecond=0),
        )


def job_document(template: dict[str, Any], subject: str, run_at: datetime) -> dict[str, Any]:
    """A reminder as `schedule()` would store it: Job.model_dump(by_alias=True) of it."""
    booking = subject.rsplit(":", 1)[1]
    return {
        **template, "_id": job_id(REMINDER, subject, run_at), "subject": subject,
        "payload": {"booking_id": f"{int(booking):024x}"}, "run_at": run_at,
    }  # fmt: skip


async def insert_jobs(ctx: Context, jobs: Iterable[tuple[str, datetime]]) -> int:
    now = datetime.now(UTC)
    template = Job(
        id="-", kind=REMINDER, subject="-", run_at=now, created_at=now, updated_at=now
    ).model_dump(by_alias=True)
    collection, inserted = Job.get_pymongo_collection(), 0
    for batch in chunked(jobs, BATCH):
        docs = [job_document(template, subject, run_at) for subject, run_at in batch]
        inserted += len((await collection.insert_many(docs, ordered=False)).inserted_ids)
    return inserted


async def backlog(ctx: Context, count: int, start: datetime, report: Report) -> None:
    began = time.perf_counter()
    inserted = await insert_jobs(ctx, reminders(count, start))
    elapsed = time.perf_counter() - began
    stats = await ctx.db.command("collStats", "jobs")
    report.row(
        "Backlog: future reminders inserted into MongoDB", inserted,
        f"{elapsed:.0f} s ({inserted / elapsed:,.0f} jobs/s)",
        f"insert_many of {BATCH:,}, unordered; collection {megabytes(stats['size'])} of documents, "
        f"{megabytes(stats['storageSize'])} on disk, indexes {megabytes(stats['totalIndexSize'])}",
    )  # fmt: skip


async def promoter_design(ctx: Context, report: Report) -> int:
    """promote_due until nothing is left in the window; the queue Redis's growth in bytes."""
    url = ctx.settings.queue_redis_url
    await ctx.queue_redis.ping()  # its connection's buffers are not the jobs' memory
    before, promoted = await used_memory(url), 0
    while handed := await promote_due(ctx.queue_redis, datetime.now(UTC), WINDOW):
        promoted += handed
    after, in_redis = await used_memory(url), await queued(url)
    report.row(
        "Promoter design: queue Redis after `promote_due`, 10-min window", in_redis,
        f"used_memory {megabytes(before)} -> {megabytes(after)} "
        f"(+{(after - before) / 1024:,.1f} KB, {(after - before) / max(in_redis, 1):,.0f} B/job)",
        f"{promoted} marked promoted in MongoDB; the rest of the backlog waits there",
    )  # fmt: skip
    return after


@dataclass(frozen=True)
class Naive:
    enqueued: int
    seconds: float
    before: int
    after: int

    def extrapolated(self, total: int) -> float:
        return self.before + (self.after - self.before) * total / self.enqueued


async def enqueue_all(url: str, jobs: Iterator[tuple[str, datetime]], total: int) -> Naive:
    """Every job deferred straight into arq, NAIVE_CHUNK at a time, as `enqueue` does."""
    before, queue = await used_memory(url), ArqRedis.from_url(url)
    began, enqueued = time.perf_counter(), 0
    try:
        for chunk in chunked(jobs, NAIVE_CHUNK):
            runs = [
                Job.model_construct(id=job_id(REMINDER, s, at), run_at=at, attempts=0)
                for s, at in chunk
            ]
            enqueued += sum(await asyncio.gather(*(enqueue(queue, job) for job in runs)))
            projected = (time.perf_counter() - began) * total / enqueued
            if enqueued >= NAIVE_SAMPLE and projected > NAIVE_BUDGET:
                break
    finally:
        await queue.aclose()
    return Naive(enqueued, time.perf_counter() - began, before, await used_memory(url))


async def naive_design(
    url: str, count: int, start: datetime, promoted: int, report: Report
) -> None:
    naive = await enqueue_all(url, reminders(count, start), count)
    full = naive.extrapolated(count)
    how = "" if naive.enqueued == count else " extrapolated"
    measured = (
        "" if naive.enqueued == count
        else f"; stopped at {naive.enqueued:,} ({megabytes(naive.after)}), scaled linearly"
    )  # fmt: skip
    report.row(
        "Naive design: every job deferred into arq with `enqueue_job`", count,
        f"used_memory {megabytes(naive.before)} -> {megabytes(full)}{how} "
        f"({(naive.after - naive.before) / naive.enqueued:,.0f} B/job)",
        f"{naive.enqueued:,} enqueued in {naive.seconds:.0f} s "
        f"({naive.enqueued / naive.seconds:,.0f} jobs/s), {NAIVE_CHUNK} at a time{measured}",
    )  # fmt: skip
    report.row(
        "Queue Redis used_memory, naive / promoter", None, f"{full / promoted:,.0f}x",
        "the two Redis servers' whole used_memory after each design",
    )  # fmt: skip


async def memory(ctx: Context, lab: Lab, count: int, report: Report) -> None:
    await report.wait_quiet("backlog")
    start = datetime.now(UTC)
    await backlog(ctx, count, start, report)
    promoted = await promoter_design(ctx, report)
    with ExitStack() as stack:
        naive = lab.redis(stack, "naive-queue")
        await report.wait_quiet("naive enqueue")
        await naive_design(redis_url(naive.port), count, start, promoted, report)


# ---------------------------------------------------------------- promoter throughput --


async def due_jobs(ctx: Context, prefix: str, run_at: datetime, count: int) -> None:
    """`count` reminders under subjects `<prefix>:<i>`, all to run at `run_at`."""
    await insert_jobs(ctx, ((subject, run_at) for subject, _ in reminders(count, run_at, prefix)))


async def states(prefix: str) -> Counter[str]:
    cursor = await Job.get_pymongo_collection().aggregate(
        [
            {"$match": {"subject": {"$regex": f"^{prefix}:"}}},
            {"$group": {"_id": "$state", "n": {"$sum": 1}}},
        ]
    )
    return Counter({doc["_id"]: doc["n"] async for doc in cursor})


async def tally(url: str) -> tuple[int, int]:
    """(jobs in arq's queue, jobs `promoted` in MongoDB)."""
    promoted = await Job.get_pymongo_collection().count_documents({"state": "promoted"})
    return await queued(url), promoted


async def check_handed(
    report: Report, where: str, prefix: str, url: str, before: tuple[int, int]
) -> str:
    """All `due` `<prefix>:` jobs promoted, and arq's queue grown by one job per job promoted
    meanwhile (backlog reminders entering the window count too); or a note of what is not."""
    due = report.sizes.due
    found, (queued_now, promoted_now) = await states(prefix), await tally(url)
    added, promoted = queued_now - before[0], promoted_now - before[1]
    if found != Counter(promoted=due):
        report.odd.note(where, "states in MongoDB", str(dict(found)))
    if added != promoted:
        report.odd.note(where, "queue growth != jobs promoted", f"+{added:,} vs +{promoted:,}")
    return (
        f"`{prefix}:` jobs: {dict(found)}; MongoDB +{promoted:,} promoted "
        f"({promoted - due} from the backlog), arq queue +{added:,}"
    )


async def promote_in_process(ctx: Context, report: Report) -> None:
    url, due = ctx.settings.queue_redis_url, report.sizes.due
    await due_jobs(ctx, "due", datetime.now(UTC), due)
    await report.wait_quiet("promote_due")
    before, calls, began = await tally(url), 0, time.perf_counter()
    while await promote_due(ctx.queue_redis, datetime.now(UTC), WINDOW):
        calls += 1
    elapsed = time.perf_counter() - began
    notes = await check_handed(report, "promote_due", "due", url, before)
    report.row(
        "Promoter throughput: `promote_due` in a loop, in-process", due,
        f"{due / elapsed:,.0f} jobs/s", f"{elapsed:.1f} s, {calls} calls of 500; {notes}",
    )  # fmt: skip


async def promote_by_process(ctx: Context, lab: Lab, report: Report) -> None:
    """The real promoter, idle until `due` far-future jobs are moved to now in one update."""
    url, far, due = ctx.settings.queue_redis_url, datetime.now(UTC) + 2 * HORIZON, report.sizes.due
    await due_jobs(ctx, "due2", far, due)
    beats = Heartbeat.get_pymongo_collection()
    with started(holdfast(lab.root, ctx.settings, "promoter")) as promoter:
        if not await poll(lambda: beats.find_one({"kind": "promoter"}), 60.0):
            raise RuntimeError(f"no promoter heartbeat within 60 s (log: {lab.root}/promoter.log)")
        await report.wait_quiet("holdfast promoter")
        before, began = await tally(url), time.perf_counter()
        moved = {"subject": {"$regex": "^due2:"}}
        await Job.get_pymongo_collection().update_many(
            moved, {"$set": {"run_at": datetime.now(UTC)}}
        )
        waiting = {**moved, "state": "scheduled"}
        done = await poll(lambda: none_left(waiting), 300.0)
        elapsed = time.perf_counter() - began
        promoter.stop()
    notes = await check_handed(report, "holdfast promoter", "due2", url, before)
    result = f"{due / elapsed:,.0f} jobs/s" if done else f"not done after {elapsed:.0f} s"
    report.row(
        "Promoter throughput: `holdfast promoter` process", due, result,
        f"{elapsed:.1f} s from the update making them due to none left `scheduled` "
        f"(default tick {ctx.settings.promoter_tick_seconds:g} s); {notes}",
    )  # fmt: skip
    report.logs += log_summary(lab.root, "promoter")


async def none_left(query: dict[str, Any]) -> bool:
    return await Job.get_pymongo_collection().count_documents(query, limit=1) == 0


async def backlog_parts(lab: Lab, count: int, report: Report) -> None:
    with ExitStack() as stack:
        queue = lab.redis(stack, "promoter-queue")
        ctx = await harness_context(lab.settings("bench_jobs", queue))
        try:
            await ensure_indexes(ctx.db)
            await memory(ctx, lab, count, report)
            await promote_in_process(ctx, report)
            await promote_by_process(ctx, lab, report)
        finally:
            await ctx.mongo.drop_database("bench_jobs")  # 1M+ documents: not kept for part 3
            await close_context(ctx)


# ---------------------------------------------------------------- commit -> SMTP -------


@dataclass
class TimedSink(SmtpSink):
    """An SmtpSink that also notes when (time.monotonic()) it accepted mail for each address."""

    accepted: dict[str, list[float]] = field(default_factory=dict)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        at = time.monotonic()
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            for address in envelope.rcpt_tos:
                self.accepted.setdefault(address.lower(), []).append(at)
        return reply

    async def arrival(self, address: str, patience: float) -> float | None:
        async def arrived() -> bool:
            return bool(self.accepted.get(address))

        return self.accepted[address][0] if await poll(arrived, patience, every=0.002) else None


@dataclass(frozen=True)
class Client:
    email: str
    headers: dict[str, str]


async def practice(
    http: httpx.AsyncClient, ctx: Context, clients: int, sizes: Sizes
) -> tuple[list[Offer], list[Client]]:
    """Admin, providers open all day, a 30-min service on a 5-min step, clients."""
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    admin = Admin(http, await login(http, ADMIN_EMAIL))
    providers = [await admin.provider(f"Provider {i:02}") for i in range(sizes.providers)]
    service = await admin.service("Quick 30", 30, 5, providers)
    day = datetime.now(UTC).date() + timedelta(days=3)  # reminders (24 h before) stay far off
    found = [await offers(http, service, p, day, 1) for p in providers]
    half_hours = [
        [o for o in own if datetime.fromisoformat(o.start).minute % 30 == 0] for own in found
    ]
    spread = [offer for row in zip(*half_hours, strict=False) for offer in row][:clients]
    emails = [f"client{i}@bench.example" for i in range(clients)]
    headers = await bounded([register(http, email) for email in emails])
    return spread, [Client(e, h) for e, h in zip(emails, headers, strict=True)]


async def latency(
    http: httpx.AsyncClient, sink: TimedSink, offer: Offer, client: Client, odd: Oddities
) -> float | None:
    """Seconds from the booking's 201 to its confirmation at the SMTP sink; None if none."""
    response = await book(http, offer, client.headers)
    committed = time.monotonic()
    if response.status_code != 201:
        odd.note("POST /api/bookings", str(response.status_code), response.text)
        return None
    arrived = await sink.arrival(client.email, MAIL_TIMEOUT)
    if arrived is None:
        odd.note("confirmation email", "lost", f"nothing for {client.email} in {MAIL_TIMEOUT:g} s")
    return None if arrived is None else arrived - committed


async def confirmations() -> Counter[str]:
    found: Counter[str] = Counter()
    async for job in Job.find({"kind": "notify.confirmation"}):
        found[f"{job.state}, attempt {job.attempts}"] += 1
    return found


def check_emails(sink: TimedSink, clients: list[Client], report: Report) -> str:
    counts = Counter({c.email: len(sink.accepted.get(c.email, [])) for c in clients})
    doubled = {email: n for email, n in counts.items() if n > 1}
    if doubled:
        report.odd.note("confirmation email", "doubled", str(doubled))
    subjects = Counter(str(m["Subject"]).split(":")[0] for m in sink.messages)
    return f"emails by subject: {dict(subjects)}; addresses with 2+: {len(doubled)}"


async def commit_to_smtp(
    http: httpx.AsyncClient, ctx: Context, sink: TimedSink, bookings: int, report: Report
) -> None:
    warmup = report.sizes.warmup
    spread, clients = await practice(http, ctx, bookings + warmup, report.sizes)
    for offer, client in zip(spread[:warmup], clients[:warmup], strict=True):
        await latency(http, sink, offer, client, report.odd)
    await report.wait_quiet("commit -> SMTP")
    timed = zip(spread[warmup:], clients[warmup:], strict=True)
    seconds = [
        s for o, c in timed if (s := await latency(http, sink, o, c, report.odd)) is not None
    ]
    await asyncio.sleep(SETTLE)
    p50, p99 = percentiles(seconds)
    report.row(
        "Commit -> SMTP: booking 201 to confirmation accepted by the sink", len(seconds),
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"target p50 < {TARGET_P50_MS:g} ms: {verdict(p50 < TARGET_P50_MS)}; sequential, one "
        f"user each, after {warmup} warm-up; max {max(seconds) * 1000:.1f} ms",
    )  # fmt: skip
    report.facts.append(f"- Commit -> SMTP: {check_emails(sink, clients, report)}.")
    report.facts.append(f"- Confirmation jobs in MongoDB: {dict(await confirmations())}.")


def start_platform(lab: Lab, stack: ExitStack, settings: Settings) -> str:
    """The API (one process), `holdfast promoter` and `holdfast worker`; the API's base URL."""
    api = stack.enter_context(started_api(holdfast_api(lab.root, settings, free_port())))
    for command in ("promoter", "worker"):
        stack.enter_context(started(holdfast(lab.root, settings, command)))
    return wait_ready(api, lab.root / "api.log")


async def stack_part(lab: Lab, bookings: int, report: Report) -> None:
    with ExitStack() as stack:
        sink = TimedSink()
        sink.start()
        stack.callback(sink.stop)
        queue, cache = lab.redis(stack, "queue"), lab.redis(stack, "cache")
        settings = lab.settings(
            "bench_stack", queue, cache_redis_url=redis_url(cache.port), smtp_url=sink.url,
            rate_limit_requests=NO_RATE_LIMIT, registrations_per_hour=NO_RATE_LIMIT,
        )  # fmt: skip
        base_url = start_platform(lab, stack, settings)
        ctx = await harness_context(settings)
        http = http_client(base_url)
        try:
            await commit_to_smtp(http, ctx, sink, bookings, report)
        finally:
            await http.aclose()
            await close_context(ctx)
    for command in ("api", "promoter", "worker"):
        report.logs += log_summary(lab.root, command)


# ---------------------------------------------------------------- orchestration --------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, RESULTS, "before each timed part,")
    parser.add_argument(
        "--backlog", type=positive, default=None, metavar="N",
        help=f"future jobs (default {BACKLOG:,}; smoke {SMOKE_BACKLOG:,})",
    )  # fmt: skip
    parser.add_argument(
        "--bookings", type=positive, default=None, metavar="N",
        help=f"timed bookings (default {BOOKINGS}; smoke {SMOKE_BOOKINGS})",
    )  # fmt: skip
    options = parse_options(parser, argv)
    if options.backlog is None:
        options.backlog = SMOKE_BACKLOG if options.smoke else BACKLOG
    if options.bookings is None:
        options.bookings = SMOKE_BOOKINGS if options.smoke else BOOKINGS
    return options


async def measure(lab: Lab, args: argparse.Namespace, report: Report) -> None:
    """Each part in turn; one that fails is reported, and the next one still runs."""
    parts: dict[str, Callable[[], Awaitable[None]]] = {
        "backlog and promoter parts": partial(backlog_parts, lab, args.backlog, report),
        "commit -> SMTP part": partial(stack_part, lab, args.bookings, report),
    }
    for name, part in parts.items():
        try:
            await part()
        except Exception as exc:  # the traceback goes to stderr, the gist into the report
            traceback.print_exc()
            report.odd.note(name, f"failed with {type(exc).__name__}", str(exc))
            report.failed = True


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    sizes = SMOKE if args.smoke else FULL
    report, began = Report(args.max_load, args.max_wait, sizes), time.perf_counter()
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-jobs-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        asyncio.run(measure(Lab(root, mongo), args, report))
    publish(args, render(report, time.perf_counter() - began))
    return 1 if report.failed else 0  # a part that failed fails the run (and the smoke test)


if __name__ == "__main__":
    sys.exit(main())
