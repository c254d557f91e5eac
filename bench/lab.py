"""What every Holdfast benchmark shares: timing, CPU and memory probes, the wait for a quiet
machine, starting and stopping real processes, a practice built over HTTP, report rows, options.

The benchmarks run from the repository root as scripts (`.venv/bin/python -P bench/<name>.py`);
each appends the repository to sys.path so that `bench.*` and `tests.fakes` import.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import structlog
from holdfast.context import Context, open_context
from holdfast.embedded import Server, port_in_use
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.support import HOLDFAST

SETUP_CONCURRENCY = 8
CONNECTIONS = 64  # per aiohttp session: at least one per concurrent client of any benchmark
ADMIN_EMAIL, PASSWORD = "admin@bench.example", "bench password"
QUIET_LOAD, QUIET_PATIENCE, QUIET_POLL = 1.0, 300.0, 5.0  # 1-min load average; seconds
ALL_DAY = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
NO_RATE_LIMIT = 100_000_000  # one address makes every request: not what rate limits are for
# Routine plain-text INFO lines: arq's (a worker starting or stopping clean, a job starting or
# succeeding) and httpx's (a request made, as the Calendly and SMS clients do).
ARQ_ROUTINE = re.compile(
    r"^HTTP Request: |^Starting worker |^redis_version=|^recording health|^Health check successful"
    r"|^shutdown on \w+ ◆ \d+ jobs complete ◆ 0 failed |^\s*-?[\d.]+s (→ |← .* ● 'succeeded'$)"
)

Headers = dict[str, str]
Op = Callable[[int], Awaitable[str]]  # worker index -> outcome label
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

    def absorb(self, run: Run) -> None:
        """Add another series' calls to this one (a measurement taken in rounds)."""
        self.elapsed += run.elapsed
        self.latencies += run.latencies
        for outcome, seconds in run.by_outcome.items():
            self.by_outcome.setdefault(outcome, []).extend(seconds)

    def p50(self, outcome: str | None = None) -> float:
        return percentiles(self.latencies if outcome is None else self.by_outcome[outcome])[0]


def median_ratio(numerators: Iterable[float], denominators: Iterable[float]) -> float:
    """The median of paired ratios: each round's figure over its baseline measured beside it
    (a measurement taken in alternating rounds, so drift on the machine reaches both)."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


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


@contextmanager
def collector_paused() -> Iterator[None]:
    """The load generator's cyclic garbage collector off for one timed series (and run just
    before it), so the process that takes the measurements never stops in the middle of one.

    The benchmark's process holds well over 100,000 tracked objects (its imports, the bodies
    it built); a full collection of them took 65-85 ms of CPU, came about every 50 s of
    webhook load, and landed in whichever series was running: every request in flight, and
    the burst sent after it, measured the pause as latency, on one side of a comparison only.
    The cycles a 15 s series leaves wait for the next series' collection (the client's RSS
    grew by 0-3 MB over a 3000-request series).
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


async def harness_context(settings: Settings) -> Context:
    """The benchmark's own context (its setup, seeding and checks), with patient timeouts:
    the product's are tuned to turn an outage into a 503 within half a second, and a machine
    running the suite's smoke runs side by side can keep mongod that long from answering. The
    Holdfast processes it measures keep the settings they were given."""
    patient = {"mongo_timeout_ms": 10_000, "cache_timeout_ms": 5_000}
    return await open_context(settings.model_copy(update=patient))


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


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (0 if it is gone)."""
    if not (fields := stat_fields(pid)):
        return 0
    return int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- processes ------------


@contextmanager
def started(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def smtp_sink(root: Path, port: int, timeout: float = 20.0) -> Server:
    """An SMTP server that accepts every message and keeps none (aiosmtpd's `Sink`), in a
    process of its own: receiving mail costs CPU and, inside the benchmark's process, its GIL,
    which the client whose latencies are measured needs. Delivery is judged from MongoDB."""
    with (root / "smtp-sink.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
             "-l", f"127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    sink = Server("smtp-sink", process, port)
    deadline = time.monotonic() + timeout
    while not port_in_use(port):
        if process.poll() is not None or time.monotonic() > deadline:
            sink.stop()
            raise RuntimeError(f"the SMTP sink did not start; see {root / 'smtp-sink.log'}")
        time.sleep(0.05)
    return sink


def holdfast_env(settings: Settings) -> dict[str, str]:
    """This environment without HOLDFAST_* variables, plus every setting given explicitly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDFAST_")}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"HOLDFAST_{name.upper()}"] = "" if plain is None else str(plain)
    return env


def holdfast(root: Path, settings: Settings, *args: str, port: int = 0) -> Server:
    """`holdfast <args>` in a session of its own, logging to <root>/<command>.log."""
    with (root / f"{args[0]}.log").open("ab") as log:
        process = subprocess.Popen(
            [*HOLDFAST, *args], env=holdfast_env(settings), cwd=root, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server(args[0], process, port)


def holdfast_api(root: Path, settings: Settings, port: int, workers: int = 1) -> Server:
    """`holdfast api --workers N`: with N > 1 a uvicorn supervisor and N worker processes."""
    return holdfast(
        root, settings, "api", "--port", str(port), "--workers", str(workers), port=port
    )


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


# ---------------------------------------------------------------- practice over HTTP ---


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


def http_client(base_url: str) -> httpx.AsyncClient:
    """The untimed setup client."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    http = httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits)
    # Every request authenticates with its own Bearer token: keep no session cookies.
    http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return http


def load_client(base_url: str, connections: int = CONNECTIONS) -> aiohttp.ClientSession:
    """The timed client: lighter on CPU than httpx, one keep-alive connection per client."""
    return aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(limit=connections),
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


# ---------------------------------------------------------------- report and options ---


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def row(name: str, run: Run | None, notes: str) -> str:
    if run is None:
        return f"| {name} | | | | | {notes} |"
    p50, p99 = percentiles(run.latencies)
    return f"| {name} | {len(run.latencies)} | {run.rate:.0f} | {p50:.1f} | {p99:.1f} | {notes} |"


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


def log_summary(root: Path, command: str) -> list[str]:
    """Warnings and errors in `<root>/<command>.log`, less arq's routine lines."""
    lines = (root / f"{command}.log").read_text(errors="replace").splitlines()
    kept = root / f"{command}.unusual.log"
    kept.write_text("\n".join(line for line in lines if not ARQ_ROUTINE.search(line)))
    return [line.replace("API log", f"`{command}` log", 1) for line in api_log_summary(kept)]


def positive(text: str) -> int:
    if (number := int(text)) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def bench_parser(doc: str, output: Path, when: str = "first") -> argparse.ArgumentParser:
    """The options of every bench script: the wait for a quiet machine, the report's path, and
    the smoke mode. `when` says when the script waits: "first", or "before each timed part"."""
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
        "--output", type=Path, default=None, metavar="PATH",
        help=f"where to write the report (default bench/{output.name}; a smoke run only "
        "prints it unless given a path)",
    )  # fmt: skip
    parser.add_argument(
        "--smoke", action="store_true",
        help="tiny sizes, a few seconds, no wait for a quiet machine: proves the benchmark "
        "still works (the test suite runs this); its figures mean nothing",
    )  # fmt: skip
    parser.set_defaults(results=output)
    return parser


def parse_options(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    options = parser.parse_args(argv)
    # Stdout is the report: what the product logs in this process (through an in-process
    # context) goes to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    if options.smoke:
        options.max_wait = 0.0  # a smoke run checks that the benchmark works, not how fast
    return options


def publish(options: argparse.Namespace, report: str) -> None:
    """Print the report and write it to --output, else to the results file (not in smoke)."""
    print(report)
    path = options.output or (None if options.smoke else options.results)
    if path is not None:
        path.write_text(report)
