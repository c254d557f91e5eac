"""Holdfast cache benchmark: availability hits vs misses, invalidation at 10 vs 100k entries.

Run from the repository root:  .venv/bin/python -P bench/cache.py [--smoke]
Starts its own mongod and two redis-servers in a temporary directory and the API as a real
process (`holdfast api --workers 1`) with the response cache on. Before each timed part it waits
for the machine to be quiet. Prints a Markdown table and writes it to bench/cache_results.md;
`--smoke` runs it at tiny sizes in seconds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

# bench.run and bench.jobs live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
from holdfast.cache.middleware import request_lookup
from holdfast.cache.rules import CacheRule, load_rules, rule_for
from holdfast.cache.store import Lookup, ResponseCache
from holdfast.context import close_context
from holdfast.embedded import free_port, redis_url, start_mongod
from holdfast.events import Event
from holdfast.settings import Settings
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bench.jobs import Lab, Report
from bench.lab import (
    NO_RATE_LIMIT,
    Op,
    Probe,
    Run,
    api_log_summary,
    bench_parser,
    counted,
    cpu_probe,
    hammer,
    harness_context,
    holdfast_api,
    http_client,
    load_client,
    metered,
    parse_options,
    percentiles,
    publish,
    started,
    started_api,
    verdict,
    wait_ready,
)
from bench.run import FULL as PRACTICE
from bench.run import READ_DAYS, practice, seed_reader_bookings
from bench.run import SMOKE as SMOKE_PRACTICE
from bench.run import Sizes as PracticeSizes

RESULTS = Path(__file__).resolve().parent / "cache_results.md"
PATH = "/api/availability"
PIPELINE_BATCH = 10_000
SYNTHETIC_TTL = 3600  # seconds: longer than the rule's 60 s, so none expires during a wait
SYNTHETIC_SLOTS = 3  # slots kept in the body written under every synthetic key
TARGET_SPEEDUP = 5.0  # hit / miss requests per second
NOISE = 1.5  # invalidation cost "the same": the median paired-round p50 ratio within NOISE x
SEED = 20_240_601
BYPASSED = "none (cache bypassed)"  # no x-cache header: the API's breaker had the cache off
ENTRY_PATIENCE = 30.0  # seconds for a response's entry to appear: it is stored after it is sent


@dataclass(frozen=True)
class Sizes:
    clients: int = 8  # concurrent aiohttp clients, for both the hit and the miss run
    requests: int = 3000  # per HTTP run, or `seconds`, whichever limit is reached first
    seconds: float = 10.0
    miss_dates: int = 6  # `from` = today .. today+5, crossed with every Area/Location IANA zone
    invalidations: int = 1000  # per cache size, over all rounds
    invalidation_warmup: int = 20  # per round
    # Rounds alternate the two sizes (10, 100k, 10, 100k …), so that a background load that
    # comes and goes on a shared machine weighs on both; `settle` seconds after each resize.
    rounds: int = 10
    settle: float = 2.0
    real_entries: int = 10  # availability URLs cached over HTTP: `from` = the first booked days
    synthetic_entries: int = 100_000
    practice: PracticeSizes = PRACTICE  # the practice and its bookings, as bench/run.py makes them


FULL = Sizes()
SMOKE = Sizes(
    clients=2, requests=20, seconds=2.0, miss_dates=1, invalidations=20, invalidation_warmup=2,
    rounds=2, settle=0.1, real_entries=3, synthetic_entries=1000, practice=SMOKE_PRACTICE,
)  # fmt: skip


# ---------------------------------------------------------------- servers --------------


@dataclass(frozen=True)
class Platform:
    settings: Settings
    base_url: str
    root: Path
    probes: dict[str, Probe]


@contextmanager
def platform(**extra: Any) -> Iterator[Platform]:
    """mongod, queue and cache redis-servers, and `holdfast api --workers 1` with the cache on.

    `extra` are further API settings (bench/webhooks.py adds a Calendly signing key).
    """
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-cache-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        lab = Lab(root, stack.enter_context(started(start_mongod(root / "mongo", free_port()))))
        queue, cache = lab.redis(stack, "queue-redis"), lab.redis(stack, "cache-redis")
        settings = lab.settings(
            "bench",
            queue,
            cache_redis_url=redis_url(cache.port),
            rate_limit_requests=NO_RATE_LIMIT,
            registrations_per_hour=NO_RATE_LIMIT,
            **extra,
        )
        api = stack.enter_context(started_api(holdfast_api(root, settings, free_port())))
        probes = {
            "API": cpu_probe(api.pid, tree=True),
            "mongod": cpu_probe(lab.mongo.pid),
            "redis": cpu_probe(queue.pid, cache.pid),
            "bench client": cpu_probe(os.getpid()),
        }
        yield Platform(settings, wait_ready(api, root / "api.log"), root, probes)


# ---------------------------------------------------------------- requests -------------


Query = dict[str, str]


@dataclass(frozen=True)
class Bench:
    load: aiohttp.ClientSession
    cache: ResponseCache  # in this process, on the API's cache Redis
    rule: CacheRule  # the availability rule
    service_id: str
    provider_id: str  # the provider with 200 bookings
    day: date  # the first booked day (tomorrow, UTC)
    probes: dict[str, Probe]
    report: Report
    sizes: Sizes

    def query(self, day: date, tz: str = "UTC") -> Query:
        return {
            "service_id": self.service_id, "provider_id": self.provider_id,
            "from": str(day), "days": str(READ_DAYS), "tz": tz,
        }  # fmt: skip

    @property
    def event(self) -> Event:
        return Event("booking-created", {"provider_id": self.provider_id})

    def lookup(self, query: Query) -> Lookup:
        """The cache key and counters the API's middleware uses for this availability query."""
        found = request_lookup(self.rule, PATH, urlencode(query))
        if found is None:
            raise RuntimeError(f"{PATH} with {sorted(query)} would bypass the cache")
        return found

    @property
    def counter(self) -> str:
        """The generation counter the cached responses of this provider depend on: the last of
        the hit URL's counters, the one its `provider_id` scopes."""
        return self.lookup(self.query(self.day)).counters[-1]


async def fetch(load: aiohttp.ClientSession, query: Query) -> tuple[int, str, bytes]:
    """Status, `x-cache` header (BYPASSED if absent) and body of one availability request."""
    async with load.get(PATH, params=query) as response:
        body = await response.read()
    return response.status, response.headers.get("x-cache", BYPASSED), body


def reader(bench: Bench, next_query: Callable[[], Query], where: str) -> Op:
    """A `hammer` op: the `x-cache` outcome of a GET, or what went wrong instead."""

    async def op(_: int) -> str:
        try:
            status, outcome, body = await fetch(bench.load, next_query())
        except (aiohttp.ClientError, TimeoutError) as exc:
            bench.report.odd.note(where, type(exc).__name__, repr(exc))
            return type(exc).__name__
        if status != 200:
            bench.report.odd.note(where, f"HTTP {status}", body.decode(errors="replace"))
            return f"HTTP {status}"
        return outcome

    return op


async def outcomes(bench: Bench, queries: list[Query]) -> Counter[str]:
    """`x-cache` of each query in turn (status codes other than 200 as `HTTP <n>`)."""
    seen: Counter[str] = Counter()
    for query in queries:
        status, outcome, _ = await fetch(bench.load, query)
        seen[outcome if status == 200 else f"HTTP {status}"] += 1
    return seen


def miss_queries(bench: Bench) -> list[Query]:
    """Distinct keys: `from` over `miss_dates` days from today, crossed with IANA zones."""
    today = bench.day - timedelta(days=1)
    zones = sorted(zone for zone in available_timezones() if "/" in zone)  # UTC is not among them
    queries = [
        bench.query(today + timedelta(days=i), z)
        for i in range(bench.sizes.miss_dates)
        for z in zones
    ]
    random.Random(SEED).shuffle(queries)
    return queries


# ---------------------------------------------------------------- hit vs miss ----------


async def timed_reads(
    bench: Bench, label: str, next_query: Callable[[], Query], total: int, warm: int = 0
) -> Run:
    """Wait for a quiet machine, send `warm` untimed requests, then `clients` loops, metered."""
    await bench.report.wait_quiet(label)
    if warm:
        seen = await outcomes(bench, [next_query() for _ in range(warm)])
        bench.report.facts.append(f"- Warm-up before {label}, x-cache: {dict(seen)}.")
    sizes = bench.sizes
    load = hammer(
        reader(bench, next_query, label),
        workers=sizes.clients, total=total, seconds=sizes.seconds,
    )  # fmt: skip
    run, cpu = await metered(bench.probes, load)
    bench.report.facts.append(f"- CPU, {label}: {cpu}.")
    return run


async def hit_and_miss(bench: Bench) -> None:
    same = bench.query(bench.day)
    status, _, body = await fetch(bench.load, same)
    slots = len(json.loads(body)["slots"]) if status == 200 else status
    bench.report.facts.append(f"- The hit URL answers {slots} slots in {len(body):,} bytes.")
    sizes = bench.sizes
    hit = await timed_reads(bench, "the hit run", lambda: same, sizes.requests, warm=3)
    distinct = miss_queries(bench)
    keys = iter(distinct)
    miss = await timed_reads(
        bench, "the miss run", lambda: next(keys), min(sizes.requests, len(distinct))
    )
    bench.report.rows += [
        http_row(f"Hit: one URL, {sizes.clients} clients", hit, "hit"),
        http_row(
            f"Miss: distinct `from` x `tz` keys, {sizes.clients} clients",
            miss,
            "miss",
            f"{len(distinct)} keys available ({sizes.miss_dates} dates x "
            f"{len(distinct) // sizes.miss_dates}"
            " zones), each requested at most once",
        ),
        speedup_row(hit, miss),
    ]


# ---------------------------------------------------------------- invalidation ---------


@dataclass
class Side:
    """The invalidations timed at one cache size, over every round."""

    real_entries: int  # the real URLs asked before and after each round
    runs: list[Run] = field(default_factory=list)
    calls: int = 0  # invalidate() calls, warm-ups included
    bumped: int = 0  # how far the provider's counter moved over them: one per call
    dbsizes: list[int] = field(default_factory=list)  # DBSIZE, per round
    entries: list[int] = field(default_factory=list)  # hf:c:* keys, per round
    server_us: list[float] = field(default_factory=list)  # Redis's own time per bump, per round
    before: Counter[str] = field(default_factory=Counter)  # x-cache of the real URLs, before
    after: Counter[str] = field(default_factory=Counter)  # ... and after the invalidations

    @property
    def run(self) -> Run:
        """Every round's latencies in one run."""
        total = Run(elapsed=sum(run.elapsed for run in self.runs))
        for run in self.runs:
            for outcome, seconds in run.by_outcome.items():
                for one in seconds:
                    total.record(outcome, one)
        return total

    def correct(self) -> bool:
        expected = self.real_entries * len(self.runs)
        return self.before["hit"] == expected and self.after["miss"] == expected


async def cached_entries(redis: Redis) -> int:
    return sum([1 async for _ in redis.scan_iter(match="hf:c:*", count=PIPELINE_BATCH)])


async def invalidation_cost(bench: Bench, side: Side) -> None:
    """Sequential `invalidate()` calls after a warm-up; the provider counter's movement."""
    redis = bench.cache.redis
    before = int(await redis.get(bench.counter) or 0)

    async def op(_: int) -> str:
        await bench.cache.invalidate(bench.event)
        return "ok" if bench.cache.available() else "breaker open"

    sizes = bench.sizes
    await hammer(op, workers=1, total=sizes.invalidation_warmup, seconds=sizes.seconds)
    await redis.config_resetstat()  # so that INFO commandstats covers the timed calls alone
    per_round = sizes.invalidations // sizes.rounds
    side.runs.append(await hammer(op, workers=1, total=per_round, seconds=sizes.seconds))
    # The bump is one Lua script (EVALSHA; EVAL the first time a server sees it).
    stats = await redis.info("commandstats")
    incr = stats.get("cmdstat_evalsha") or stats.get("cmdstat_eval") or {}
    side.server_us.append(float(incr.get("usec_per_call", "nan")))
    side.calls += sizes.invalidation_warmup + len(side.runs[-1].latencies)
    side.bumped += int(await redis.get(bench.counter) or 0) - before


async def measure_side(bench: Bench, side: Side) -> None:
    """Cache the real URLs (a miss, then a hit each), time the invalidations, ask them again."""
    real = [bench.query(bench.day + timedelta(days=i)) for i in range(side.real_entries)]
    await outcomes(bench, real)
    for query in real:
        await stored_entry(bench, query)
    side.before += await outcomes(bench, real)
    side.dbsizes.append(await bench.cache.redis.dbsize())
    side.entries.append(await cached_entries(bench.cache.redis))
    await invalidation_cost(bench, side)
    side.after += await outcomes(bench, real)


async def stored_entry(bench: Bench, query: Query) -> bytes:
    """The cache entry of a query just asked. The API stores it after sending the response, so
    it may take a moment to appear; and if the API's breaker had the cache off for a few
    seconds (a slow moment of the cache Redis on a busy machine), nothing was stored, so the
    query is asked again each second until the entry shows."""
    key = bench.lookup(query).key
    deadline = time.monotonic() + ENTRY_PATIENCE
    asked = time.monotonic()
    while (raw := await bench.cache.redis.get(key)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key} ({query}) is not in the cache Redis after it was asked")
        if time.monotonic() - asked > 1.0:
            await outcomes(bench, [query])
            asked = time.monotonic()
        await asyncio.sleep(0.02)
    return bytes(raw)


async def entry_template(bench: Bench) -> str:
    """The hit URL's entry as the store wrote it, its body cut to a few slots. The URL is asked
    again first: its entry from the hit run may have expired by now (waiting for a quiet
    machine and the miss run can outlast an availability entry's TTL of a minute)."""
    query = bench.query(bench.day)
    await outcomes(bench, [query])
    entry = json.loads(await stored_entry(bench, query))
    answer = json.loads(entry["b"])
    answer["slots"] = answer["slots"][:SYNTHETIC_SLOTS]
    entry["b"] = json.dumps(answer, separators=(",", ":"))
    return json.dumps(entry, separators=(",", ":"))


def synthetic_keys(bench: Bench) -> list[str]:
    """The keys the API would store the same query under for made-up providers."""
    return [
        bench.lookup({**bench.query(bench.day), "provider_id": f"{i:024x}"}).key
        for i in range(bench.sizes.synthetic_entries)
    ]


async def in_batches(
    redis: Redis, keys: list[str], command: Callable[[Pipeline, str], Any]
) -> float:
    """`command` for every key, PIPELINE_BATCH to a pipeline; seconds taken."""
    began = time.perf_counter()
    for start in range(0, len(keys), PIPELINE_BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys[start : start + PIPELINE_BATCH]:
                command(pipe, key)
            await pipe.execute()
    return time.perf_counter() - began


async def invalidations(bench: Bench) -> None:
    """`rounds` times: invalidations with the real entries alone, then with 100k more."""
    redis, hit_url = bench.cache.redis, bench.query(bench.day)
    await redis.flushdb()  # forget the miss run's entries: start from the real ones alone
    await outcomes(bench, [hit_url])
    template, keys = await entry_template(bench), synthetic_keys(bench)
    sizes = bench.sizes
    small, large, wrote = Side(sizes.real_entries), Side(sizes.real_entries), 0.0
    await bench.report.wait_quiet("the invalidations")
    for _ in range(sizes.rounds):
        await measure_side(bench, small)
        wrote = await in_batches(redis, keys, lambda p, k: p.set(k, template, ex=SYNTHETIC_TTL))
        await asyncio.sleep(sizes.settle)
        await measure_side(bench, large)
        await in_batches(redis, keys, lambda p, k: p.unlink(k))
        await asyncio.sleep(sizes.settle)
    bench.report.facts += [
        f"- Wrote {sizes.synthetic_entries:,} synthetic entries through pipelines in "
        f"{wrote:.1f} s (last round); each round then waited {sizes.settle:g} s before timing.",
        round_fact(f"{sizes.real_entries} entries", small),
        round_fact(f"{sizes.synthetic_entries:,} more", large),
    ]
    bench.report.rows += [
        invalidation_row(f"Invalidate, {sizes.real_entries} cached responses", small, None),
        invalidation_row(f"Invalidate, {max(large.entries):,} cached responses", large, small),
        same_cost_row(small, large, sizes),
    ]


# ---------------------------------------------------------------- report ---------------


def table_row(name: str, run: Run | None, unit: float, suffix: str, notes: list[str]) -> str:
    """One table row; `unit` scales percentiles' milliseconds (1000 for microseconds)."""
    if run is None:
        return f"| {name} | | | | | {'; '.join(notes)} |"
    p50, p99 = (unit * p for p in percentiles(run.latencies))
    return (
        f"| {name} | {len(run.latencies):,} | {run.rate:,.0f} | {p50:,.2f} {suffix} "
        f"| {p99:,.2f} {suffix} | {'; '.join(notes)} |"
    )


def http_row(name: str, run: Run, expected: str, *extra: str) -> str:
    others = {label: len(seen) for label, seen in run.by_outcome.items() if label != expected}
    wrong = f"not {expected}: {sum(others.values())}" + (f" {others}" if others else "")
    return table_row(
        name, run, 1, "ms", [f"x-cache {expected}: {run.count(expected)}", wrong, *extra]
    )


def speedup_row(hit: Run, miss: Run) -> str:
    ratio = hit.rate / miss.rate if miss.rate else float("nan")
    latency = percentiles(miss.latencies)[0] / percentiles(hit.latencies)[0]
    notes = [
        f"{ratio:.1f}x the requests/s (target >= {TARGET_SPEEDUP:g}x: "
        f"{verdict(ratio >= TARGET_SPEEDUP)})",
        f"p50 miss / p50 hit {latency:.1f}x",
    ]
    return table_row("Throughput, hit / miss", None, 1, "", notes)


def round_p50s(side: Side) -> list[float]:
    """Each round's p50 in microseconds."""
    return [1000 * percentiles(run.latencies)[0] for run in side.runs]


def round_fact(what: str, side: Side) -> str:
    p50s = ", ".join(f"{p50:.0f}" for p50 in round_p50s(side))
    return f"- Invalidation p50 per round, {what}: {p50s} µs."


def invalidation_row(name: str, side: Side, base: Side | None) -> str:
    run, sizes = side.run, f"{min(side.dbsizes):,} to {max(side.dbsizes):,}"
    grew = f" (+{min(side.dbsizes) - max(base.dbsizes):,} over the row above)" if base else ""
    notes = [
        f"{len(side.runs)} rounds; DBSIZE {sizes}{grew}, {max(side.entries):,} `hf:c:*` keys",
        f"breaker closed after {run.count('ok'):,} of {len(run.latencies):,} calls",
        f"provider counter +{side.bumped:,} for {side.calls:,} calls incl. warm-ups",
        f"Redis's own time per bump (the Lua script) {statistics.mean(side.server_us):.1f} µs",
        f"real URLs before: {dict(side.before)}, after: {dict(side.after)} "
        f"({verdict(side.correct())})",
    ]
    return table_row(name, run, 1000, "µs", notes)


def same_cost_row(small: Side, large: Side, sizes: Sizes) -> str:
    """Overall p50 and p99 ratios, and the median ratio of the p50s of adjacent rounds."""
    small50, small99 = percentiles(small.run.latencies)
    large50, large99 = percentiles(large.run.latencies)
    few, many = round_p50s(small), round_p50s(large)
    paired = statistics.median(b / a for a, b in zip(few, many, strict=True))
    notes = [
        f"p50 {large50 / small50:.2f}x, p99 {large99 / small99:.2f}x",
        f"lowest round p50 {min(few):.0f} vs {min(many):.0f} µs",
        f"median of the {sizes.rounds} paired-round p50 ratios {paired:.2f}x (target: the same "
        f"within noise, within {NOISE:g}x either way: {verdict(1 / NOISE <= paired <= NOISE)})",
    ]
    name = f"Invalidation, {sizes.synthetic_entries:,} more entries / {sizes.real_entries}"
    return table_row(name, None, 1, "", notes)


def render(report: Report, seconds: float, sizes: Sizes) -> str:
    smoke = " SMOKE RUN (tiny sizes: the figures mean nothing)." if sizes != FULL else ""
    return "\n".join(
        [
            "# Holdfast cache benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, API `holdfast api --workers 1` with the response cache "
            f"on, load from aiohttp {aiohttp.__version__} with {counted(sizes.clients, 'client')}; "
            f"each timed part waited for a 1-min load average below {report.max_load:g} (for "
            f"at most {report.max_wait:g} s). HTTP latencies are client-side; invalidations "
            f"are timed in this process around `ResponseCache.invalidate`.{smoke}",
            "",
            "| Measurement | n | per s | p50 | p99 | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *report.rows,
            "",
            *report.tail(seconds, "failed requests, busy machine, API log warnings/errors"),
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def measure(running: Platform, report: Report, sizes: Sizes) -> None:
    ctx = await harness_context(running.settings)
    http, load = http_client(running.base_url), load_client(running.base_url)
    redis = Redis.from_url(str(running.settings.cache_redis_url))
    try:
        catalog, users = await practice(http, ctx, sizes.practice)
        day = datetime.now(UTC).date() + timedelta(days=1)
        seeded = await seed_reader_bookings(http, catalog, users, day, sizes.practice)
        report.facts.append(
            f"- Seeded {seeded} bookings from {day}, {sizes.practice.single_bookings} on the "
            "provider read."
        )
        rules = load_rules(running.settings.cache_rules_file)
        if (rule := rule_for(rules, PATH)) is None:
            raise RuntimeError(f"no cache rule for {PATH} in {running.settings.cache_rules_file}")
        cache = ResponseCache(redis, rules)
        bench = Bench(
            load,
            cache,
            rule,
            catalog.consult,
            catalog.readers[0],
            day,
            running.probes,
            report,
            sizes,
        )
        await hit_and_miss(bench)
        await invalidations(bench)
    finally:
        await redis.aclose()
        await load.close()
        await http.aclose()
        await close_context(ctx)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    return parse_options(bench_parser(__doc__, RESULTS, "before each timed part,"), argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    report, began = Report(args.max_load, args.max_wait), time.perf_counter()
    sizes = SMOKE if args.smoke else FULL
    # A smoke run may share the machine with others: a slow cache Redis must not switch the
    # cache off (the API's breaker) and fail the correctness checks; speed is not its point.
    with platform(**({"cache_timeout_ms": 2000} if args.smoke else {})) as running:
        asyncio.run(measure(running, report, sizes))
        report.logs += api_log_summary(running.root / "api.log")
    publish(args, render(report, time.perf_counter() - began, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
