"""Holdfast soak benchmark: steady open-loop mixed traffic against the whole stack, per minute.

Run from the repository root:  .venv/bin/python -P bench/soak.py [--duration S] [--rate R]
Starts its own mongod, queue and cache redis-servers, an SMTP sink and a fake Calendly API in a
temporary directory, then `holdfast api --workers 2`, `holdfast promoter` and `holdfast worker`.
Offers a steady rate of availability reads, bookings, cancellations, logins and now and then a
Calendly webhook, whatever the responses, and reports every minute: p50/p99 per endpoint,
errors, the RSS of every process, the queue's depth and the jobs' lag. At the end it waits for
the backlog to drain and checks every confirmation was delivered. Prints a Markdown table and
writes it to bench/soak_results.md; `--smoke` runs it for seconds. See bench/README.md.
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
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench.* and tests.fakes live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
from arq.constants import default_queue_name
from holdfast.accounts.service import create_or_reset_admin
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.jobs.models import PENDING, Job
from holdfast.jobs.status import backlog_counts
from holdfast.notifications.models import Message
from holdfast.settings import Settings
from pydantic import SecretStr
from redis.exceptions import RedisError

from bench.lab import (
    ADMIN_EMAIL,
    NO_RATE_LIMIT,
    PASSWORD,
    Admin,
    Headers,
    Quiet,
    Run,
    bench_parser,
    bounded,
    harness_context,
    holdfast,
    holdfast_api,
    http_client,
    load_client,
    log_summary,
    login,
    parse_options,
    percentiles,
    positive,
    process_tree,
    publish,
    quiet_note,
    register,
    rss_bytes,
    started,
    started_api,
    verdict,
    wait_for_quiet,
    wait_ready,
)
from bench.webhooks import KEY, invitee_event, signed
from tests.fakes import CalendlyApi, SmtpSink

RESULTS = Path(__file__).resolve().parent / "soak_results.md"
# The traffic mix: each arrival is one of these, by weight.
MIX = {"availability": 55, "booking": 20, "cancel": 10, "login": 10, "webhook": 5}
ENDPOINTS = {
    "availability": "GET /api/availability",
    "booking": "POST /api/bookings",
    "cancel": "POST /api/bookings/{id}/cancel",
    "login": "POST /api/auth/login",
    "webhook": "POST /webhooks/calendly",
}
CANCEL_AFTER = 5.0  # seconds: only bookings at least this old are cancelled (confirmed by then)
BOOKING_DAYS = 30  # bookings go to the next 30 days, half-hour starts, random provider
TARGET_P99_GROWTH, TARGET_RSS_GROWTH = 1.25, 0.10
MIN_SAMPLES = 20  # an endpoint with fewer requests in an interval is not judged on its p99
SEED = 20_240_601
MB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    duration: float = 600.0  # seconds of traffic
    interval: float = 60.0  # seconds per reported interval
    rate: float = 25.0  # requests offered per second, all endpoints together
    providers: int = 10
    users: int = 40
    drain: float = 120.0  # seconds to wait at the end for the backlog to empty


FULL = Sizes()
SMOKE = Sizes(duration=6.0, interval=2.0, rate=8.0, providers=2, users=3, drain=60.0)


# ---------------------------------------------------------------- processes ------------


@dataclass(frozen=True)
class Soaked:
    settings: Settings
    base_url: str
    root: Path
    sink: SmtpSink
    processes: Callable[[], dict[str, int]]  # name -> pid of every process, now


@contextmanager
def whole_stack() -> Iterator[Soaked]:
    """mongod, both Redis servers, the SMTP sink, the fake Calendly API, two API processes,
    the promoter and a worker; all stopped on the way out."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-soak-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        queue, cache = (
            stack.enter_context(started(start_redis(root / name, free_port(), persist=False)))
            for name in ("queue-redis", "cache-redis")
        )
        sink, calendly = SmtpSink().start(), CalendlyApi().start()
        stack.callback(sink.stop)
        stack.callback(calendly.stop)
        settings = Settings(
            mongo_url=mongo_url(mongo.port, "bench_soak"),
            queue_redis_url=redis_url(queue.port),
            cache_redis_url=redis_url(cache.port),
            secret_key=SecretStr(f"bench-soak-secret-{secrets.token_hex(16)}"),
            smtp_url=sink.url,
            rate_limit_requests=NO_RATE_LIMIT,  # one address makes every request
            registrations_per_hour=NO_RATE_LIMIT,
            calendly_signing_key=SecretStr(KEY),
            calendly_api_url=calendly.url,
            calendly_token=SecretStr("bench-calendly-token"),
        )
        api = stack.enter_context(started_api(holdfast_api(root, settings, free_port(), 2)))
        others = {
            name: stack.enter_context(started(holdfast(root, settings, name)))
            for name in ("promoter", "worker")
        }
        servers = {"mongod": mongo, "queue redis": queue, "cache redis": cache, **others}

        def processes() -> dict[str, int]:
            # By pid: a worker process uvicorn restarts shows up as a new column.
            found = {"api supervisor": api.pid}
            found |= {f"api pid {pid}": pid for pid in sorted(process_tree(api.pid)[1:])}
            return found | {name: server.pid for name, server in servers.items()}

        yield Soaked(settings, wait_ready(api, root / "api.log"), root, sink, processes)


# ---------------------------------------------------------------- traffic ---------------


@dataclass
class Booked:
    booking_id: str
    user: int
    at: float  # monotonic


@dataclass
class Traffic:
    """What the load has made so far, and the latencies by interval and endpoint."""

    load: aiohttp.ClientSession
    service: str
    providers: list[str]
    users: list[tuple[str, Headers]]  # email, Authorization header
    interval: float
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    began: float = field(default_factory=time.monotonic)
    runs: dict[tuple[int, str], Run] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)  # "<endpoint> <what>"
    first_error: dict[str, str] = field(default_factory=dict)
    booked: list[Booked] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)
    webhooks: int = 0
    lags: dict[int, list[float]] = field(default_factory=dict)  # interval -> send lags, s

    def record(self, endpoint: str, started: float, outcome: str, detail: str = "") -> None:
        index = int((started - self.began) // self.interval)
        self.runs.setdefault((index, endpoint), Run()).record(outcome, time.monotonic() - started)
        if outcome not in ("ok", "taken"):
            self.errors[f"{endpoint} {outcome}"] += 1
            self.first_error.setdefault(f"{endpoint} {outcome}", detail[:300])

    async def send(
        self, endpoint: str, method: str, path: str, user: int = -1, **kwargs: Any
    ) -> None:
        """One request; 2xx is ok, a 409 on a booking is a slot taken, anything else an error.
        A booking made is remembered with its `user`, who may cancel it later."""
        started = time.monotonic()
        try:
            async with self.load.request(method, path, **kwargs) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.record(endpoint, started, type(exc).__name__, repr(exc))
            return
        if response.status < 300:
            self.record(endpoint, started, "ok")
            if endpoint == "booking":
                self.booked.append(Booked(json.loads(body)["id"], user, started))
        elif response.status == 409 and endpoint == "booking":
            self.record(endpoint, started, "taken")
        else:
            self.record(endpoint, started, str(response.status), body.decode(errors="replace"))

    def user(self) -> int:
        return self.rng.randrange(len(self.users))

    def request(self, kind: str) -> Awaitable[None]:
        """The next request of this kind, with random (seeded) parameters."""
        rng, today = self.rng, datetime.now(UTC).date()
        if kind == "cancel" and (victim := self.cancellable()) is not None:
            self.cancelled.add(victim.booking_id)
            headers = self.users[victim.user][1]
            path = f"/api/bookings/{victim.booking_id}/cancel"
            return self.send("cancel", "POST", path, json={"reason": "soak"}, headers=headers)
        if kind == "booking":
            day = today + timedelta(days=rng.randint(1, BOOKING_DAYS))
            start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                minutes=30 * rng.randrange(48)
            )
            body = {
                "service_id": self.service, "provider_id": rng.choice(self.providers),
                "start": start.isoformat().replace("+00:00", "Z"),
            }  # fmt: skip
            who = self.user()
            return self.send(
                "booking", "POST", "/api/bookings", json=body, headers=self.users[who][1], user=who
            )
        if kind == "login":
            credentials = {"email": self.users[self.user()][0], "password": PASSWORD}
            return self.send("login", "POST", "/api/auth/login", json=credentials)
        if kind == "webhook":
            self.webhooks += 1
            delivery = signed(invitee_event(f"soak{self.webhooks:07d}"), int(time.time()))
            return self.send(
                "webhook", "POST", "/webhooks/calendly", data=delivery.body,
                headers=delivery.headers,
            )  # fmt: skip
        query = {
            "service_id": self.service, "provider_id": rng.choice(self.providers),
            "from": str(today + timedelta(days=rng.randrange(14))), "days": "7", "tz": "UTC",
        }  # fmt: skip
        return self.send("availability", "GET", "/api/availability", params=query)

    def cancellable(self) -> Booked | None:
        ripe = time.monotonic() - CANCEL_AFTER
        for booked in self.booked:
            if booked.at > ripe:
                return None
            if booked.booking_id not in self.cancelled:
                return booked
        return None


async def offer_load(
    traffic: Traffic, sizes: Sizes, every: Callable[[int], Awaitable[None]]
) -> float:
    """Start one request every 1/rate s for `duration`, whatever the responses; call `every`
    at each interval's end; wait for the last responses. The send lag's p99 in ms (and, in
    `traffic.lags`, each interval's lags in seconds): how late requests left, so that a stall of
    this process would show."""
    kinds, weights = list(MIX), list(MIX.values())
    pending: set[asyncio.Task[None]] = set()
    samples: list[asyncio.Task[None]] = []  # off the sending loop, so they delay no request
    lags: list[float] = []
    total = int(sizes.duration * sizes.rate)
    next_report = 1
    traffic.began = time.monotonic()
    for index in range(total):
        due = traffic.began + index / sizes.rate
        if due >= traffic.began + next_report * sizes.interval:
            samples.append(asyncio.create_task(every(next_report)))
            next_report += 1
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        lags.append(time.monotonic() - due)
        traffic.lags.setdefault(int((due - traffic.began) // sizes.interval), []).append(lags[-1])
        task = asyncio.create_task(traffic.request(traffic.rng.choices(kinds, weights)[0]))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    await asyncio.sleep(max(0.0, traffic.began + next_report * sizes.interval - time.monotonic()))
    samples.append(asyncio.create_task(every(next_report)))
    await asyncio.gather(*samples)
    return percentiles(lags)[1]


# ---------------------------------------------------------------- resources ------------


@dataclass
class Sample:
    interval: int
    rss: dict[str, int]  # process name -> bytes
    queued: int  # jobs in arq's queue
    backlog: dict[str, float]  # holdfast.jobs.status.backlog_counts
    lag: list[float]  # seconds from due to finished, of the jobs finished in the interval
    stored: dict[str, int]  # data store -> bytes of data it holds (see STORES)


async def sample(ctx: Context, soaked: Soaked, index: int, since: datetime) -> Sample:
    now = datetime.now(UTC)
    window = timedelta(seconds=ctx.settings.promoter_window_seconds)
    finished = Job.get_pymongo_collection().find(
        {"finished_at": {"$gte": since, "$lt": now}, "state": "succeeded"},
        projection={"run_at": 1, "finished_at": 1},
    )
    lag = [(job["finished_at"] - job["run_at"]).total_seconds() async for job in finished]
    return Sample(
        interval=index,
        rss={name: rss_bytes(pid) for name, pid in soaked.processes().items()},
        queued=int(await ctx.queue_redis.zcard(default_queue_name)),
        backlog=await backlog_counts(now, window),
        lag=lag,
        stored=await stored_bytes(ctx),
    )


# The data stores: their memory follows the data they hold (mongod's cache warms to its working
# set, the cache Redis keeps more responses), so their growth is reported beside that data and
# not judged as a leak; the RSS target is for Holdfast's own processes.
STORES = ("mongod", "queue redis", "cache redis")


async def stored_bytes(ctx: Context) -> dict[str, int]:
    """What each store holds now; a store that does not answer within the context's short
    timeout (a loaded machine) is left out of this sample, not a reason to end the soak."""
    stats = await ctx.db.command("dbStats")
    held = {"mongod": int(stats["dataSize"] + stats["indexSize"])}
    redises = {"queue redis": ctx.queue_redis, "cache redis": ctx.cache_redis}
    for name, redis in redises.items():
        if redis is None:
            continue
        try:
            held[name] = int((await redis.info("memory"))["used_memory"])
        except RedisError:
            print(f"soak: {name} did not answer in time; left out of this sample", file=sys.stderr)
    return held


async def drained(ctx: Context, patience: float) -> float:
    """Wait until no job that is due is still pending or running; seconds waited."""
    began = time.monotonic()
    unfinished = {"state": {"$in": [*PENDING, "running"]}, "run_at": {"$lte": datetime.now(UTC)}}
    while await Job.get_pymongo_collection().count_documents(unfinished, limit=1):
        if time.monotonic() - began > patience:
            break
        await asyncio.sleep(0.5)
        unfinished["run_at"] = {"$lte": datetime.now(UTC)}
    return time.monotonic() - began


@dataclass(frozen=True)
class Delivery:
    made: int  # bookings answered 201
    missing: list[str]  # of those, without a sent confirmation email
    sent: int  # emails MongoDB marks sent
    accepted: int  # emails the SMTP sink accepted
    dead: int  # jobs dead


async def deliveries(traffic: Traffic, soaked: Soaked) -> Delivery:
    made = [b.booking_id for b in traffic.booked]
    confirmed = {
        m.booking_id
        async for m in Message.find(
            {"booking_id": {"$in": made}, "template": "confirmation", "status": "sent"}
        )
    }
    return Delivery(
        made=len(made),
        missing=[b for b in made if b not in confirmed],
        sent=await Message.find({"channel": "email", "status": "sent"}).count(),
        accepted=len(soaked.sink.received),
        dead=await Job.find({"state": "dead"}).count(),
    )


# ---------------------------------------------------------------- report ---------------


@dataclass
class Soak:
    sizes: Sizes
    quiet: Quiet
    smoke: bool
    samples: list[Sample] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


def label(sizes: Sizes, index: int) -> str:
    unit = "Minute" if sizes.interval == 60 else f"Interval ({sizes.interval:g} s)"
    return f"{unit} {index + 1}"


def traffic_rows(traffic: Traffic, sizes: Sizes, intervals: int) -> list[str]:
    rows = []
    for index in range(intervals):
        for endpoint, path in ENDPOINTS.items():
            run = traffic.runs.get((index, endpoint))
            if run is None:
                continue
            p50, p99 = percentiles(run.latencies)
            others = {k: len(v) for k, v in run.by_outcome.items() if k not in ("ok", "taken")}
            notes = f"ok {run.count('ok')}" + (
                f", 409 {run.count('taken')}" if run.count("taken") else ""
            )
            notes += f"; errors {sum(others.values())}" + (f" {others}" if others else "")
            rows.append(
                f"| {label(sizes, index)}: {path} | {len(run.latencies)} | "
                f"{len(run.latencies) / sizes.interval:.1f} | {p50:.1f} | {p99:.1f} | {notes} |"
            )
    return rows


def p99_growth(traffic: Traffic, intervals: int) -> tuple[bool, str]:
    """Each endpoint's p99 in the last interval over its p99 in the second."""
    if intervals < 2:
        return False, "fewer than two intervals"
    second, last, notes, ok = 1, intervals - 1, [], True
    for endpoint in ENDPOINTS:
        early, late = traffic.runs.get((second, endpoint)), traffic.runs.get((last, endpoint))
        if early is None or late is None:
            continue
        ratio = percentiles(late.latencies)[1] / percentiles(early.latencies)[1]
        judged = min(len(early.latencies), len(late.latencies)) >= MIN_SAMPLES
        ok = ok and (ratio <= TARGET_P99_GROWTH or not judged)
        notes.append(f"{endpoint} {ratio:.2f}x" + ("" if judged else " (too few to judge)"))
    return ok, ", ".join(notes)


def rss_growth(samples: list[Sample]) -> tuple[bool, str]:
    """Each Holdfast process's RSS at the end over its RSS after the first interval (the
    warm-up); a process gone meanwhile (uvicorn replacing a worker, say) fails it too. The data
    stores' RSS is reported beside the data they hold, unjudged."""
    if len(samples) < 2:
        return False, "fewer than two samples"
    first, last = samples[0].rss, samples[-1].rss
    growth = {name: last[name] / size - 1 for name, size in first.items() if name in last and size}
    ours = {name: g for name, g in growth.items() if name not in STORES}
    gone = [name for name in first if last.get(name, 0) == 0]
    notes = ", ".join(f"{name} {100 * g:+.1f}%" for name, g in ours.items())
    held_first, held_last = samples[0].stored, samples[-1].stored
    stores = ", ".join(
        f"{name} {100 * growth[name]:+.1f}% while its data grew "
        f"{held_first[name] / MB:.1f} to {held_last[name] / MB:.1f} MB"
        for name in STORES
        if name in growth and name in held_first and name in held_last
    )
    if gone:
        notes += f"; gone since: {', '.join(gone)}"
    notes += f"; data stores (not judged): {stores}"
    return not gone and max(ours.values(), default=0.0) < TARGET_RSS_GROWTH, notes


def resource_rows(soak: Soak) -> list[str]:
    names = list(soak.samples[0].rss) if soak.samples else []
    head = " | ".join(names)
    rows = [
        f"| Interval | {head} | arq queue | backlog | due, not promoted | dead | oldest due s "
        "| job lag p50/p99 ms (n) |",
        "|---|" + "---:|" * (len(names) + 6),
    ]
    for s in soak.samples:
        rss = " | ".join(f"{s.rss.get(name, 0) / MB:.0f}" for name in names)
        lag = percentiles(s.lag) if s.lag else (float("nan"), float("nan"))
        backlog = s.backlog
        rows.append(
            f"| {label(soak.sizes, s.interval - 1)} | {rss} | {s.queued} | "
            f"{backlog['backlog']:.0f} | {backlog['due_not_promoted']:.0f} | "
            f"{backlog['dead']:.0f} | {backlog['oldest_due_age_seconds']:.1f} | "
            f"{lag[0]:.0f} / {lag[1]:.0f} ({len(s.lag)}) |"
        )
    return rows


def verdict_rows(traffic: Traffic, soak: Soak, delivered: Delivery, intervals: int) -> list[str]:
    errors = sum(traffic.errors.values())
    growth_ok, growth = p99_growth(traffic, intervals)
    rss_ok, rss = rss_growth(soak.samples)
    delivered_ok = not delivered.missing and delivered.sent == delivered.accepted
    delivered_ok = delivered_ok and delivered.dead == 0
    first = "; ".join(f"{k}: `{v}`" for k, v in list(traffic.first_error.items())[:3])
    return [
        f"| Verdict: no errors | | | | | {errors} errors {dict(traffic.errors)} "
        f"({verdict(errors == 0)}){'; first: ' + first if first else ''} |",
        f"| Verdict: p99 in the last interval within {TARGET_P99_GROWTH:g}x of the second | | | "
        f"| | {growth} ({verdict(growth_ok)}) |",
        f"| Verdict: RSS growth of Holdfast's processes under {100 * TARGET_RSS_GROWTH:.0f}% "
        "after warm-up | | | | | "
        f"first interval's end to the last's: {rss} ({verdict(rss_ok)}) |",
        f"| Verdict: every confirmation delivered | | | | | {delivered.made} bookings, "
        f"{len(delivered.missing)} without a sent confirmation; emails sent (MongoDB) "
        f"{delivered.sent}, accepted by the SMTP sink {delivered.accepted}; dead jobs "
        f"{delivered.dead} ({verdict(delivered_ok)}) |",
    ]


def render(soak: Soak, traffic_table: list[str], resources: list[str]) -> str:
    sizes = soak.sizes
    smoke = " SMOKE RUN (seconds, not minutes: the figures mean nothing)." if soak.smoke else ""
    return "\n".join(
        [
            "# Holdfast soak benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}: `holdfast api --workers 2`, `holdfast promoter`, "
            f"`holdfast worker`, cache Redis on; {sizes.rate:g} requests/s offered open-loop for "
            f"{sizes.duration:g} s, mix {MIX}; {quiet_note(soak.quiet)}. Latencies in ms, "
            f"client-side, grouped by the interval each request started in.{smoke}",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *traffic_table,
            "",
            "Resident memory (MB) of every process and the job backlog at each interval's end:",
            "",
            *resources,
            "",
            *soak.facts,
            "",
            "Log warnings and errors:",
            "",
            *(soak.logs or ["- none"]),
            "",
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def practice(
    http: Any, ctx: Context, sizes: Sizes
) -> tuple[str, list[str], list[tuple[str, Headers]]]:
    """Providers open all day (UTC), a 30-minute service on a half-hour step, client accounts."""
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    admin = Admin(http, await login(http, ADMIN_EMAIL))
    providers = [await admin.provider(f"Soak {i:02}") for i in range(sizes.providers)]
    service = await admin.service("Soak 30", 30, 30, providers)
    emails = [f"soak{i}@bench.example" for i in range(sizes.users)]
    headers = await bounded([register(http, email) for email in emails])
    return service, providers, list(zip(emails, headers, strict=True))


async def soak_run(soaked: Soaked, soak: Soak) -> Traffic:
    sizes = soak.sizes
    ctx = await harness_context(soaked.settings)
    http, load = http_client(soaked.base_url), load_client(soaked.base_url, connections=256)
    try:
        service, providers, users = await practice(http, ctx, sizes)
        traffic = Traffic(load, service, providers, users, sizes.interval)
        since = datetime.now(UTC)

        async def every(index: int) -> None:
            nonlocal since
            taken = await sample(ctx, soaked, index, since)
            since = datetime.now(UTC)
            soak.samples.append(taken)

        lag99 = await offer_load(traffic, sizes, every)
        soak.samples.sort(key=lambda taken: taken.interval)
        waited = await drained(ctx, sizes.drain)
        delivered = await deliveries(traffic, soaked)
    finally:
        await load.close()
        await http.aclose()
        await close_context(ctx)
    intervals = max(index for index, _ in traffic.runs) + 1 if traffic.runs else 0
    soak.rows = traffic_rows(traffic, sizes, intervals) + verdict_rows(
        traffic, soak, delivered, intervals
    )
    soak.facts += [
        f"- {len(traffic.booked)} bookings made, {len(traffic.cancelled)} cancelled, "
        f"{traffic.webhooks} Calendly deliveries (no Book now token: each is rejected, cancelled "
        "at the fake Calendly and its invitee emailed); send lag p99 "
        f"{lag99:.1f} ms; per interval p99 / max ms: "
        + ", ".join(
            f"{label(sizes, i)} {percentiles(v)[1]:.1f} / {max(v) * 1000:.1f}"
            for i, v in sorted(traffic.lags.items())
        )
        + ".",
        f"- After the load the backlog drained in {waited:.1f} s (patience {sizes.drain:g} s).",
    ]
    return traffic


def arguments(argv: Sequence[str] | None) -> Any:
    parser = bench_parser(__doc__, RESULTS)
    parser.add_argument("--duration", type=float, metavar="S", help="seconds of traffic (600)")
    parser.add_argument("--rate", type=float, metavar="R", help="requests per second (25)")
    parser.add_argument("--interval", type=positive, metavar="S", help="seconds per row (60)")
    return parse_options(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = arguments(argv)
    base = SMOKE if options.smoke else FULL
    sizes = Sizes(
        duration=options.duration or base.duration,
        interval=float(options.interval or base.interval),
        rate=options.rate or base.rate,
        providers=base.providers,
        users=base.users,
        drain=base.drain,
    )
    soak = Soak(sizes, wait_for_quiet(options.max_load, options.max_wait), options.smoke)
    began = time.perf_counter()
    with whole_stack() as soaked:
        asyncio.run(soak_run(soaked, soak))
        soak.logs = [
            line
            for name in ("api", "promoter", "worker")
            for line in log_summary(soaked.root, name)
        ]
    report = render(soak, soak.rows, resource_rows(soak))
    publish(options, report + f"\nWhole run: {time.perf_counter() - began:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
