"""Holdfast cache benchmark: availability hits vs misses, invalidation at 10 vs 100k entries.

Run from /work/main:  .venv/bin/python -P bench/cache.py
Starts its own mongod and two redis-servers in a temporary directory and the API as a real
process (`holdfast api --workers 1`) with the response cache on. Before each timed part it waits
for the machine to be quiet. Prints a Markdown table and writes it to bench/cache_results.md.
See bench/README.md.
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
from zoneinfo import available_timezones

# bench.run and bench.jobs live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
from holdfast.cache.rules import CacheRule, load_rules, rule_for
from holdfast.cache.store import ResponseCache
from holdfast.context import close_context, open_context
from holdfast.embedded import free_port, redis_url, start_mongod
from holdfast.events import Event
from holdfast.settings import Settings
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bench.jobs import Lab, Report, holdfast
from bench.run import (
    READ_DAYS,
    SINGLE_BOOKINGS,
    Op,
    Probe,
    Run,
    api_log_summary,
    bench_parser,
    counted,
    cpu_probe,
    hammer,
    http_client,
    load_client,
    metered,
    percentiles,
    practice,
    seed_reader_bookings,
    started,
    started_api,
    verdict,
    wait_ready,
)

RESULTS = Path(__file__).resolve().parent / "cache_results.md"
PATH = "/api/availability"
CLIENTS = 8  # concurrent aiohttp clients, for both the hit and the miss run
REQUESTS, SECONDS = 3000, 10.0  # per HTTP run, whichever limit is reached first
MISS_DATES = 6  # `from` = today .. today+5, crossed with every Area/Location IANA zone
INVALIDATIONS, INVALIDATION_WARMUP = 1000, 20  # per cache size; the warm-up per round
# Rounds alternate the two sizes (10, 100k, 10, 100k …), so that a background load that comes
# and goes on a shared machine weighs on both; SETTLE seconds after each resize.
ROUNDS, SETTLE = 10, 2.0
REAL_ENTRIES = 10  # availability URLs cached over HTTP: `from` = the first 10 booked days
SYNTHETIC_ENTRIES, PIPELINE_BATCH = 100_000, 10_000
SYNTHETIC_TTL = 3600  # seconds: longer than the rule's 60 s, so none expires during a wait
SYNTHETIC_SLOTS = 3  # slots kept in the body written under every synthetic key
TARGET_SPEEDUP = 5.0  # hit / miss requests per second
NOISE = 1.5  # invalidation cost "the same": the median paired-round p50 ratio within NOISE x
UNLIMITED = 100_000_000  # rate-limit requests: every request comes from one address
SEED = 20_240_601
BYPASSED = "none (cache bypassed)"  # no x-cache header: the API's breaker had the cache off


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
            rate_limit_requests=UNLIMITED,
            **extra,
        )
        port = free_port()
        api = holdfast(root, settings, "api", "--port", str(port), "--workers", "1", port=port)
        stack.enter_context(started_api(api))
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

    def query(self, day: date, tz: str = "UTC") -> Query:
        return {
            "service_id": self.service_id, "provider_id": self.provider_id,
            "from": str(day), "days": str(READ_DAYS), "tz": tz,
        }  # fmt: skip

    @property
    def event(self) -> Event:
        return Event("booking-created", {"provider_id": self.provider_id})

    @property
    def counter(self) -> str:
        """The generation counter the cached responses of this provider depend on."""
        return f"hf:gen:{self.rule.name}:{self.rule.scope}:{self.provider_id}"


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
    """Distinct keys: `from` over MISS_DATES days from today, crossed with IANA zones."""
    today = bench.day - timedelta(days=1)
    zones = sorted(zone for zone in available_timezones() if "/" in zone)  # UTC is not among them
    queries = [bench.query(today + timedelta(days=i), z) for i in range(MISS_DATES) for z in zones]
    random.Random(SEED).shuffle(queries)
    return queries


# ---------------------------------------------------------------- hit vs miss ----------


async def timed_reads(
    bench: Bench, label: str, next_query: Callable[[], Query], total: int, warm: int = 0
) -> Run:
    """Wait for a quiet machine, send `warm` untimed requests, then CLIENTS loops, metered."""
    await bench.report.wait_quiet(label)
    if warm:
        seen = await outcomes(bench, [next_query() for _ in range(warm)])
        bench.report.facts.append(f"- Warm-up before {label}, x-cache: {dict(seen)}.")
    load = hammer(reader(bench, next_query, label), workers=CLIENTS, total=total, seconds=SECONDS)
    run, cpu = await metered(bench.probes, load)
    bench.report.facts.append(f"- CPU, {label}: {cpu}.")
    return run


async def hit_and_miss(bench: Bench) -> None:
    same = bench.query(bench.day)
    status, _, body = await fetch(bench.load, same)
    slots = len(json.loads(body)["slots"]) if status == 200 else status
    bench.report.facts.append(f"- The hit URL answers {slots} slots in {len(body):,} bytes.")
    hit = await timed_reads(bench, "the hit run", lambda: same, REQUESTS, warm=3)
    distinct = miss_queries(bench)
    keys = iter(distinct)
    miss = await timed_reads(
        bench, "the miss run", lambda: next(keys), min(REQUESTS, len(distinct))
    )
    bench.report.rows += [
        http_row(f"Hit: one URL, {CLIENTS} clients", hit, "hit"),
        http_row(
            f"Miss: distinct `from` x `tz` keys, {CLIENTS} clients",
            miss,
            "miss",
            f"{len(distinct)} keys available ({MISS_DATES} dates x {len(distinct) // MISS_DATES}"
            " zones), each requested at most once",
        ),
        speedup_row(hit, miss),
    ]


# ---------------------------------------------------------------- invalidation ---------


@dataclass
class Side:
    """The invalidations timed at one cache size, over every round."""

    runs: list[Run] = field(default_factory=list)
    calls: int = 0  # invalidate() calls, warm-ups included
    bumped: int = 0  # how far the provider's counter moved over them: one per call
    dbsizes: list[int] = field(default_factory=list)  # DBSIZE, per round
    entries: list[int] = field(default_factory=list)  # hf:c:* keys, per round
    server_us: list[float] = field(default_factory=list)  # Redis's own time per INCRBY, per round
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
        expected = REAL_ENTRIES * len(self.runs)
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

    await hammer(op, workers=1, total=INVALIDATION_WARMUP, seconds=SECONDS)
    await redis.config_resetstat()  # so that INFO commandstats covers the timed calls alone
    side.runs.append(await hammer(op, workers=1, total=INVALIDATIONS // ROUNDS, seconds=SECONDS))
    incr = (await redis.info("commandstats")).get("cmdstat_incrby", {})  # redis-py's INCR
    side.server_us.append(float(incr.get("usec_per_call", "nan")))
    side.calls += INVALIDATION_WARMUP + len(side.runs[-1].latencies)
    side.bumped += int(await redis.get(bench.counter) or 0) - before


async def measure_side(bench: Bench, side: Side) -> None:
    """Cache the real URLs (a miss, then a hit each), time the invalidations, ask them again."""
    real = [bench.query(bench.day + timedelta(days=i)) for i in range(REAL_ENTRIES)]
    await outcomes(bench, real)
    side.before += await outcomes(bench, real)
    side.dbsizes.append(await bench.cache.redis.dbsize())
    side.entries.append(await cached_entries(bench.cache.redis))
    await invalidation_cost(bench, side)
    side.after += await outcomes(bench, real)


def material(rule: CacheRule, query: Query) -> list[str]:
    """The key material the middleware builds for a request to PATH."""
    return [rule.name, PATH, *sorted(f"{k}={v}" for k, v in query.items())]


async def entry_template(bench: Bench) -> str:
    """The hit URL's entry as the store wrote it, its body cut to a few slots."""
    query = bench.query(bench.day)
    key = ResponseCache.lookup_for(bench.rule, material(bench.rule, query), None).key
    if (raw := await bench.cache.redis.get(key)) is None:
        raise RuntimeError(f"{key} (the hit URL) is not in the cache Redis: key format changed?")
    entry = json.loads(raw)
    answer = json.loads(entry["b"])
    answer["slots"] = answer["slots"][:SYNTHETIC_SLOTS]
    entry["b"] = json.dumps(answer, separators=(",", ":"))
    return json.dumps(entry, separators=(",", ":"))


def synthetic_keys(bench: Bench) -> list[str]:
    """`hf:c:availability:<digest>` keys of SYNTHETIC_ENTRIES requests for made-up providers."""
    keys = []
    for i in range(SYNTHETIC_ENTRIES):
        query = {**bench.query(bench.day), "provider_id": f"{i:024x}"}
        keys.append(ResponseCache.lookup_for(bench.rule, material(bench.rule, query), None).key)
    return keys


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
    """ROUNDS times: time invalidations with the real entries alone, then with 100k more."""
    redis, hit_url = bench.cache.redis, bench.query(bench.day)
    await redis.flushdb()  # forget the miss run's entries: start from the real ones alone
    await outcomes(bench, [hit_url, hit_url])
    template, keys = await entry_template(bench), synthetic_keys(bench)
    small, large, wrote = Side(), Side(), 0.0
    await bench.report.wait_quiet("the invalidations")
    for _ in range(ROUNDS):
        await measure_side(bench, small)
        wrote = await in_batches(redis, keys, lambda p, k: p.set(k, template, ex=SYNTHETIC_TTL))
        await asyncio.sleep(SETTLE)
        await measure_side(bench, large)
        await in_batches(redis, keys, lambda p, k: p.unlink(k))
        await asyncio.sleep(SETTLE)
    bench.report.facts += [
        f"- Wrote {SYNTHETIC_ENTRIES:,} synthetic entries through pipelines in {wrote:.1f} s "
        f"(last round); each round then waited {SETTLE:g} s before timing.",
        round_fact(f"{REAL_ENTRIES} entries", small),
        round_fact(f"{SYNTHETIC_ENTRIES:,} more", large),
    ]
    bench.report.rows += [
        invalidation_row(f"Invalidate, {REAL_ENTRIES} cached responses", small, None),
        invalidation_row(f"Invalidate, {max(large.entries):,} cached responses", large, small),
        same_cost_row(small, large),
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
        f"{ROUNDS} rounds; DBSIZE {sizes}{grew}, {max(side.entries):,} `hf:c:*` keys",
        f"breaker closed after {run.count('ok'):,} of {len(run.latencies):,} calls",
        f"provider counter +{side.bumped:,} for {side.calls:,} calls incl. warm-ups",
        f"Redis's own time per INCRBY {statistics.mean(side.server_us):.1f} µs",
        f"real URLs before: {dict(side.before)}, after: {dict(side.after)} "
        f"({verdict(side.correct())})",
    ]
    return table_row(name, run, 1000, "µs", notes)


def same_cost_row(small: Side, large: Side) -> str:
    """Overall p50 and p99 ratios, and the median ratio of the p50s of adjacent rounds."""
    small50, small99 = percentiles(small.run.latencies)
    large50, large99 = percentiles(large.run.latencies)
    few, many = round_p50s(small), round_p50s(large)
    paired = statistics.median(b / a for a, b in zip(few, many, strict=True))
    notes = [
        f"p50 {large50 / small50:.2f}x, p99 {large99 / small99:.2f}x",
        f"lowest round p50 {min(few):.0f} vs {min(many):.0f} µs",
        f"median of the {ROUNDS} paired-round p50 ratios {paired:.2f}x (target: the same within "
        f"noise, within {NOISE:g}x either way: {verdict(1 / NOISE <= paired <= NOISE)})",
    ]
    name = f"Invalidation, {SYNTHETIC_ENTRIES:,} more entries / {REAL_ENTRIES}"
    return table_row(name, None, 1, "", notes)


def render(report: Report, seconds: float) -> str:
    return "\n".join(
        [
            "# Holdfast cache benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, API `holdfast api --workers 1` with the response cache "
            f"on, load from aiohttp {aiohttp.__version__} with {counted(CLIENTS, 'client')}; "
            f"each timed part waited for a 1-min load average below {report.max_load:g} (for "
            f"at most {report.max_wait:g} s). HTTP latencies are client-side; invalidations "
            "are timed in this process around `ResponseCache.invalidate`.",
            "",
            "| Measurement | n | per s | p50 | p99 | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *report.rows,
            "",
            *report.tail(seconds, "failed requests, busy machine, API log warnings/errors"),
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def measure(running: Platform, report: Report) -> None:
    ctx = await open_context(running.settings)
    http, load = http_client(running.base_url), load_client(running.base_url)
    redis = Redis.from_url(str(running.settings.cache_redis_url))
    try:
        catalog, users = await practice(http, ctx)
        day = datetime.now(UTC).date() + timedelta(days=1)
        seeded = await seed_reader_bookings(http, catalog, users, day)
        report.facts.append(
            f"- Seeded {seeded} bookings from {day}, {SINGLE_BOOKINGS} on the provider read."
        )
        rules = load_rules(running.settings.cache_rules_file)
        if (rule := rule_for(rules, PATH)) is None:
            raise RuntimeError(f"no cache rule for {PATH} in {running.settings.cache_rules_file}")
        cache = ResponseCache(redis, rules)
        bench = Bench(
            load, cache, rule, catalog.consult, catalog.readers[0], day, running.probes, report
        )
        await hit_and_miss(bench)
        await invalidations(bench)
    finally:
        await redis.aclose()
        await load.close()
        await http.aclose()
        await close_context(ctx)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    return bench_parser(__doc__, RESULTS, "before each timed part,").parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    report, began = Report(args.max_load, args.max_wait), time.perf_counter()
    with platform() as running:
        asyncio.run(measure(running, report))
        report.logs += api_log_summary(running.root / "api.log")
    text = render(report, time.perf_counter() - began)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
