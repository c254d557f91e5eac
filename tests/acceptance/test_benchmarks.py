"""Every benchmark still runs: each script's smoke mode, as a user would start it.

A benchmark that copies the product's internals, or calls a function that changed, breaks
here instead of waiting for someone to try it. Each script starts its own mongod, redis-servers,
SMTP sink and Holdfast processes (as the real runs do), at tiny sizes, all seven at once; their
figures mean nothing on a shared machine, so only that each finished, printed its table and
kept its correctness checks is asserted, never a speed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PASS = "(PASS)"
# Per script: rows its table must have and, for correctness checks that hold at any speed,
# what the row must say.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "run.py": [
        ("POST /api/bookings, 1 client, free slot, API + promoter + worker", "201: 6, other: 0"),
        ("Ratio booking p50 / floor p50, success path", "target <= 3x"),
        ("Overlap check, API database", PASS),
        ("Overlap check, floor database", PASS),
        ("Confirmation: booking made -> email accepted by SMTP", PASS),
    ],
    "cache.py": [
        ("Throughput, hit / miss", "target >= 5x"),
        ("Invalidate, 3 cached responses", PASS),
        ("Invalidate, 1,003 cached responses", PASS),
    ],
    "jobs.py": [
        ("Promoter throughput: `holdfast promoter` process", "{'promoted': 200}"),
        ("Commit -> SMTP: booking 201 to confirmation accepted by the sink", "p50"),
    ],
    "waitlist.py": [
        ("Cancel -> offer SMS, queue up", "p50"),
        ("Where the time goes (p50 of each stage)", "-> SMS accepted"),
        ("Offers: one SMS per chain", PASS),
    ],
    "webhooks.py": [
        ("Ratio webhook p99 / bare + insert p99, all rounds", "target <= 1.3x"),
        ("POST /webhooks/calendly", "200: 40, other: 0"),
    ],
    "stripe.py": [
        ("Ratio webhook p99 / bare + insert p99, all rounds", "target <= 1.3x"),
        ("POST /webhooks/stripe", "200: 40, other: 0"),
    ],
    "soak.py": [
        ("Interval (2 s) 1: GET /api/availability", "ok"),
        ("Verdict: RSS growth", "api supervisor"),
        ("Verdict: every confirmation delivered", PASS),
    ],
    "series.py": [
        ("Create a 52-week series, every occurrence checked", "target p50 < 200 ms"),
        ("Every series: 50 booked, conflicts in weeks [3, 40]", PASS),
        ("Overlap check, MongoDB scan", PASS),
    ],
    "integrations.py": [
        ("Ratio with / without busy events, p50", "target <= 1.5x"),
        ("Incremental read, 5 events changed", "counts read: PASS"),
    ],
    "scale.py": [
        ("With 3 days: POST /api/bookings", "x the empty database's p50"),
        ("With 3 days: GET /api/bookings as the admin", "outcomes {'200': 4}"),
        ("Storage, with 3 days", "MB"),
    ],
}


def row(table: str, name: str) -> str:
    """The table row whose first cell starts with `name`."""
    rows = [line for line in table.splitlines() if line.startswith(f"| {name}")]
    assert rows, f"no row {name!r} in:\n{table}"
    return rows[0]


@dataclass
class SmokeRun:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    report: Path


@pytest.fixture(scope="module")
def smoke_runs(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, SmokeRun]]:
    """Every selected script's smoke run, started at once: most of each is waiting for
    processes to start, so together they take little longer than the slowest alone."""
    root = tmp_path_factory.mktemp("bench-smoke")
    selected = {
        item.callspec.params["script"]
        for item in request.session.items
        if item.originalname == "test_benchmark_smoke_mode_runs_and_reports"
    }
    runs: dict[str, SmokeRun] = {}
    for script in sorted(selected):
        out, err, report = (root / f"{script}.{what}" for what in ("out", "err", "md"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-P", f"bench/{script}", "--smoke", "--output", str(report)],
                cwd=REPO, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        runs[script] = SmokeRun(process, out, err, report)
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            # SIGINT, not SIGTERM: Python runs `finally` blocks only on the former, and those
            # stop every server and process the benchmark started (their own sessions).
            run.process.send_signal(signal.SIGINT)
            try:
                run.process.wait(30)
            except subprocess.TimeoutExpired:
                run.process.kill()


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_smoke_mode_runs_and_reports(
    script: str, smoke_runs: dict[str, SmokeRun]
) -> None:
    run = smoke_runs[script]
    code = run.process.wait(540)
    stdout, stderr = run.stdout.read_text(), run.stderr.read_text()
    assert code == 0, f"{script} exited {code}:\n{stderr[-4000:]}"
    assert "| Measurement |" in stdout, stdout[-2000:]
    for name, says in EXPECTED[script]:
        assert says in row(stdout, name), f"{script}: {name!r} does not say {says!r}"
    assert run.report.read_text().strip() == stdout.strip(), "the report file differs"
