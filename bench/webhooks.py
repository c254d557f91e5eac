"""Holdfast webhook benchmark: `POST /webhooks/calendly` acknowledgement latency at a fixed rate.

Run from /work/main:  .venv/bin/python -P bench/webhooks.py
Starts its own mongod and redis-servers in a temporary directory, the API as a real process
(`holdfast api --workers 1`, cache Redis on, a Calendly signing key) and a bare Litestar app
(bench/bare_app.py) under uvicorn. Sends signed `invitee.created` deliveries open-loop at a
fixed rate to each, waiting for a quiet machine before each series. Prints a Markdown table and
writes it to bench/webhooks_results.md. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench.* lives in the repository, which `-P` keeps off sys.path; appended, so that installed
# modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import aiohttp
from holdfast.calendly.signature import sign
from holdfast.embedded import Server, free_port
from pydantic import SecretStr

from bench.cache import Platform, platform
from bench.jobs import Report, log_summary
from bench.run import (
    Oddities,
    Probe,
    Run,
    bench_parser,
    cpu_probe,
    load_client,
    metered,
    percentiles,
    row,
    started,
    verdict,
    wait_ready,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "webhooks_results.md"
RATE, SECONDS = 200, 15.0  # offered requests per second, open-loop; length of a timed series
REQUESTS = int(RATE * SECONDS)
WARMUP = 200  # deliveries at the same rate before each timed series, not timed
TARGET_RATIO = 3.0  # webhook p99 / bare p99
KEY = "bench-calendly-signing-key"
CALENDLY = "https://api.calendly.com"
START = "2027-03-03T11:00:00.000000Z"
WEBHOOK, BARE = "/webhooks/calendly", "/"

Send = Callable[["Delivery"], Awaitable[str]]  # -> outcome label: the status, or an error


# ---------------------------------------------------------------- deliveries -----------


def invitee_event(invitee: str) -> dict[str, Any]:
    """An `invitee.created` webhook body in Calendly's v2 shape, as tests/integration builds it.

    No Book now token (`tracking.utm_content`): the worker would reject the delivery later, but
    no worker runs here, and the acknowledgement does not look at it.
    """
    event_uri = f"{CALENDLY}/scheduled_events/EV-{invitee}"
    return {
        "event": "invitee.created",
        "created_at": "2027-03-01T06:00:00.000000Z",
        "created_by": f"{CALENDLY}/users/ORGOWNER",
        "payload": {
            "uri": f"{event_uri}/invitees/{invitee}",
            "email": "someone@example.com",
            "name": "Some One",
            "status": "active",
            "timezone": "Europe/London",
            "event": event_uri,
            "tracking": {
                "utm_campaign": None,
                "utm_source": None,
                "utm_medium": None,
                "utm_content": None,
                "utm_term": None,
                "salesforce_uuid": None,
            },
            "scheduled_event": {
                "uri": event_uri,
                "name": "Session",
                "start_time": START,
                "end_time": START.replace("11:00", "12:00"),
                "event_type": f"{CALENDLY}/event_types/SESSION",
                "event_memberships": [{"user": f"{CALENDLY}/users/ADA"}],
            },
            "rescheduled": False,
            "old_invitee": None,
            "new_invitee": None,
            "cancel_url": f"https://calendly.com/cancellations/{invitee}",
            "reschedule_url": f"https://calendly.com/reschedulings/{invitee}",
        },
    }


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


def signed(event: dict[str, Any], timestamp: int) -> Delivery:
    raw = json.dumps(event).encode()
    signature = f"t={timestamp},v1={sign(KEY, timestamp, raw)}"
    headers = {"Content-Type": "application/json", "Calendly-Webhook-Signature": signature}
    return Delivery(raw, headers)


def deliveries(prefix: str, count: int) -> list[Delivery]:
    """`count` signed deliveries, each for a new invitee; `t` is now (the API allows 180 s)."""
    timestamp = int(time.time())
    return [signed(invitee_event(f"{prefix}{i:06d}"), timestamp) for i in range(count)]


# ---------------------------------------------------------------- open-loop load -------


def poster(load: aiohttp.ClientSession, path: str, odd: Oddities) -> Send:
    async def send(delivery: Delivery) -> str:
        try:
            async with load.post(path, data=delivery.body, headers=delivery.headers) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            odd.note(f"POST {path}", type(exc).__name__, repr(exc))
            return type(exc).__name__
        if response.status != 200:
            odd.note(f"POST {path}", str(response.status), content.decode(errors="replace"))
        return str(response.status)

    return send


@dataclass
class Series:
    """One open-loop series: each request's latency, and how late it started (its send lag)."""

    name: str
    run: Run = field(default_factory=Run)
    lags: list[float] = field(default_factory=list)  # seconds the send started late
    cpu: str = ""


async def open_loop(send: Send, batch: list[Delivery], series: Series) -> Run:
    """Start one request every 1/RATE s whatever the responses; wait for them all."""
    run, began = series.run, time.perf_counter()

    async def one(delivery: Delivery, due: float) -> None:
        sent = time.perf_counter()
        series.lags.append(sent - due)
        outcome = await send(delivery)
        run.record(outcome, time.perf_counter() - sent)

    tasks = []
    for index, delivery in enumerate(batch):
        due = began + index / RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(delivery, due)))
    await asyncio.gather(*tasks)
    run.elapsed = time.perf_counter() - began
    return run


async def timed_series(name: str, send: Send, probes: dict[str, Probe], report: Report) -> Series:
    """Wait for a quiet machine, warm up at the same rate, then time REQUESTS deliveries."""
    await report.wait_quiet(f"the {name} series")
    await open_loop(send, deliveries(f"{name}-warmup-", WARMUP), Series(name))
    series = Series(name)
    timed = open_loop(send, deliveries(f"{name}-", REQUESTS), series)
    _, series.cpu = await metered(probes, timed)
    return series


# ---------------------------------------------------------------- processes ------------


def bare_server(root: Path) -> Server:
    """bench/bare_app.py under uvicorn as the API runs it (uvloop, httptools, no access log)."""
    port = free_port()
    entry = (
        f"import sys; sys.path.append({str(REPO)!r}); import uvicorn; "
        f"uvicorn.run('bench.bare_app:app', host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    with (root / "bare.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-P", "-c", entry], cwd=root, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server("bare", process, port)


# ---------------------------------------------------------------- checks and report ----


async def stored(running: Platform, report: Report) -> None:
    """Every delivery stored once, waiting for the promoter; then the promoter's step
    (`enqueue_received`, run here in-process) gives each exactly one processing job."""
    from holdfast.calendly.service import enqueue_received
    from holdfast.context import close_context, open_context
    from holdfast.db import ensure_indexes

    expected = WARMUP + REQUESTS
    ctx = await open_context(running.settings)
    try:
        await ensure_indexes(ctx.db)
        found = {"deliveries in MongoDB": await ctx.db.calendly_deliveries.count_documents({})}
        found["awaiting the promoter"] = await ctx.db.calendly_deliveries.count_documents(
            {"job_id": None}
        )
        while await enqueue_received(ctx):
            pass
        found["calendly.process jobs after its step"] = await ctx.db.jobs.count_documents(
            {"kind": "calendly.process"}
        )
    finally:
        await close_context(ctx)
    for what, count in found.items():
        if count != expected:
            report.odd.note("after the webhook series", what, f"{count}, expected {expected}")
    listed = ", ".join(f"{what} {count}" for what, count in found.items())
    report.facts.append(
        f"- After the webhook series ({expected} sent, warm-up included): {listed}."
    )


def series_row(label: str, series: Series) -> str:
    run = series.run
    other = len(run.latencies) - run.count("200")
    lag50, lag99 = percentiles(series.lags)
    notes = (
        f"offered {RATE}/s; 200: {run.count('200')}, other: {other}; "
        f"send lag p50 {lag50:.2f} ms, p99 {lag99:.2f} ms"
    )
    return row(label, run, notes)


def ratio_row(webhook: Series, bare: Series) -> str:
    (hook50, hook99), (bare50, bare99) = (percentiles(s.run.latencies) for s in (webhook, bare))
    ratio = hook99 / bare99
    notes = f"{ratio:.1f}x (target <= {TARGET_RATIO:g}x: {verdict(ratio <= TARGET_RATIO)})"
    return row("Ratio webhook p99 / bare p99", None, f"{notes}; p50 ratio {hook50 / bare50:.1f}x")


def add_results(webhook: Series, bare: Series, report: Report) -> None:
    report.rows += [
        series_row(f"POST {WEBHOOK} (signed `invitee.created`, new invitee each)", webhook),
        series_row(f"POST {BARE}, bare Litestar app", bare),
        ratio_row(webhook, bare),
    ]
    report.facts += [f"- CPU, {s.name} series: {s.cpu}." for s in (bare, webhook)]


def render(report: Report, seconds: float) -> str:
    return "\n".join(
        [
            "# Holdfast webhook benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, API `holdfast api --workers 1` with the cache Redis, "
            f"load from aiohttp {aiohttp.__version__}: {REQUESTS} requests open-loop at "
            f"{RATE}/s per series after {WARMUP} warm-up requests. Latencies in ms, client-side, "
            "from each request's start.",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            *report.rows,
            "",
            *report.tail(seconds, "non-200 responses, deliveries not stored, log warnings/errors"),
        ]
    )


# ---------------------------------------------------------------- orchestration --------


async def measure(
    running: Platform, bare_url: str, probes: dict[str, Probe], report: Report
) -> None:
    api, floor = load_client(running.base_url), load_client(bare_url)
    try:
        bare = await timed_series("bare", poster(floor, BARE, report.odd), probes, report)
        webhook = await timed_series("webhook", poster(api, WEBHOOK, report.odd), probes, report)
    finally:
        await api.close()
        await floor.close()
    add_results(webhook, bare, report)
    await stored(running, report)


def main(argv: Sequence[str] | None = None) -> int:
    args = bench_parser(__doc__, RESULTS, "before each timed series,").parse_args(argv)
    report, began = Report(args.max_load, args.max_wait), time.perf_counter()
    with (
        platform(calendly_signing_key=SecretStr(KEY)) as running,
        started(bare_server(running.root)) as bare,
    ):
        bare_url = wait_ready(bare, running.root / "bare.log")
        probes = {**running.probes, "bare app": cpu_probe(bare.pid)}
        asyncio.run(measure(running, bare_url, probes, report))
        report.logs += log_summary(running.root, "api") + log_summary(running.root, "bare")
    text = render(report, time.perf_counter() - began)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
