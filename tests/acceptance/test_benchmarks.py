"""Every benchmark still runs: each script's smoke mode, as a user would start it.

A benchmark that copies the product's internals, or calls a function that changed, breaks
here instead of waiting for someone to try it. Each script starts its own mongod, redis-servers,
SMTP sink and Holdfast processes (as the real runs do), at tiny sizes, a few at once; their
figures mean nothing on a shared machine, so only that each finished, printed its table and
kept its correctness checks is asserted, never a speed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
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
        ("Ratio webhook p99 / bare + insert p99, median of the rounds", "target <= 1.3x"),
        ("POST /webhooks/calendly", "200: 40, other: 0"),
        ("POST /durable, bare app + one journaled insert, all rounds", "other: 0"),
    ],
    "stripe.py": [
        ("Ratio webhook p99 / bare + insert p99, median of the rounds", "target <= 1.3x"),
        ("POST /webhooks/stripe", "200: 40, other: 0"),
        # The floor must do its insert too: it answered 500 to Stripe's events unseen.
        ("POST /durable, bare app + one journaled insert, all rounds", "other: 0"),
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
    stdout: Path
    stderr: Path
    report: Path
    process: subprocess.Popen[bytes] | None = None


# How many smoke runs go at once. Each starts a mongod, redis-servers and several Python
# processes; ten at once on CI's two cores starved the API processes past their 60 s start-up.
AT_ONCE = 3


class SmokeRuns:
    """The selected scripts' smoke runs, AT_ONCE at a time in the order given, started by a
    thread so the first finishes while the others still wait their turn."""

    def __init__(self, root: Path, scripts: list[str]) -> None:
        self.runs = {
            script: SmokeRun(*(root / f"{script}.{what}" for what in ("out", "err", "md")))
            for script in scripts
        }
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._start_all, daemon=True)
        self.thread.start()

    def _start_all(self) -> None:
        running: list[subprocess.Popen[bytes]] = []
        for script, run in self.runs.items():
            while len(running) >= AT_ONCE and not self.stopping.is_set():
                running = [process for process in running if process.poll() is None]
                time.sleep(0.2)
            if self.stopping.is_set():
                return
            with run.stdout.open("wb") as stdout, run.stderr.open("wb") as stderr:
                command = [sys.executable, "-P", f"bench/{script}", "--smoke"]
                run.process = subprocess.Popen(
                    [*command, "--output", str(run.report)],
                    cwd=REPO, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                )  # fmt: skip
            running.append(run.process)

    def wait(self, script: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        run = self.runs[script]
        while run.process is None:
            assert time.monotonic() < deadline, f"{script} never got its turn"
            time.sleep(0.2)
        return run.process.wait(max(deadline - time.monotonic(), 0.1))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for run in self.runs.values():
            if run.process is not None and run.process.poll() is None:
                # SIGINT, not SIGTERM: Python runs `finally` blocks only on the former, and
                # those stop every server and process the benchmark started (their own
                # sessions).
                run.process.send_signal(signal.SIGINT)
                try:
                    run.process.wait(30)
                except subprocess.TimeoutExpired:
                    run.process.kill()


@pytest.fixture(scope="module")
def smoke_runs(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SmokeRuns]:
    """Every selected script's smoke run, a few at a time: most of each is waiting for
    processes to start, so together they take little longer than the slowest few alone."""
    selected = {
        item.callspec.params["script"]
        for item in request.session.items
        if item.originalname == "test_benchmark_smoke_mode_runs_and_reports"
    }
    runs = SmokeRuns(tmp_path_factory.mktemp("bench-smoke"), sorted(selected))
    yield runs
    runs.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_smoke_mode_runs_and_reports(script: str, smoke_runs: SmokeRuns) -> None:
    run = smoke_runs.runs[script]
    code = smoke_runs.wait(script, 540)
    stdout, stderr = run.stdout.read_text(), run.stderr.read_text()
    assert code == 0, f"{script} exited {code}:\n{stderr[-4000:]}"
    assert "| Measurement |" in stdout, stdout[-2000:]
    for name, says in EXPECTED[script]:
        assert says in row(stdout, name), f"{script}: {name!r} does not say {says!r}"
    assert run.report.read_text().strip() == stdout.strip(), "the report file differs"
