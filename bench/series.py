"""Holdfast series benchmark: creating a 52-week weekly series, every occurrence checked.

Run from the repository root:  .venv/bin/python -P bench/series.py [--smoke]
Starts its own mongod and queue redis-server in a temporary directory, builds one practitioner
open around the clock with 5,000 existing bookings over the next year (written straight into
MongoDB with their claim units, shaped by the product's own models and functions), then times
`holdfast.scheduling.series.create_series` — what `POST /api/admin/series` calls — for 20 new
52-week series, one at a time, each at its own time of day. Each collides with two existing
bookings (weeks 3 and 40): both must be reported and the other 50 booked. A scan of MongoDB
afterwards must find no overlap. Target: p50 under 200 ms. Prints a Markdown table and writes it
to bench/series_results.md; `--smoke` runs it at tiny sizes in seconds. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.bookings.guard import claim_ids
from holdfast.bookings.models import Booking
from holdfast.catalog.schemas import AvailabilityIn, ServiceIn, WeeklyHoursIn
from holdfast.catalog.service import create_provider, create_service, set_weekly_availability
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.scheduling.schemas import SeriesIn
from holdfast.scheduling.series import create_series
from holdfast.settings import Settings
from pydantic import SecretStr

from bench.lab import (
    Quiet,
    Run,
    bench_parser,
    harness_context,
    parse_options,
    publish,
    quiet_note,
    row,
    started,
    verdict,
    wait_for_quiet,
)

RESULTS = Path(__file__).with_name("series_results.md")
MINUTES = 60
WEEKS = 52
COLLIDING = (3, 40)  # the weeks in which each new series meets an existing booking


@dataclass(frozen=True)
class Sizes:
    existing: int
    runs: int


FULL, SMOKE = Sizes(existing=5_000, runs=20), Sizes(existing=200, runs=3)


@contextmanager
def stack() -> Iterator[Settings]:
    with ExitStack() as servers:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-series-"))
        servers.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = servers.enter_context(started(start_mongod(root / "mongo", free_port())))
        queue = servers.enter_context(
            started(start_redis(root / "queue", free_port(), persist=False))
        )
        yield Settings(
            mongo_url=mongo_url(mongo.port, "bench_series"),
            queue_redis_url=redis_url(queue.port),
            secret_key=SecretStr(f"bench-series-secret-{os.urandom(16).hex()}"),
        )


def user(n: int, now: datetime, role: str = "client") -> User:
    email = f"series{n}@bench.example"
    return User(
        id=PydanticObjectId(), email=email, email_key=email, name=f"Client {n}", timezone="UTC",
        role=role, password_hash="-", created_at=now,  # type: ignore[arg-type]
    )  # fmt: skip


def existing_booking(
    provider: PydanticObjectId, service: PydanticObjectId, start: datetime, now: datetime
) -> Booking:
    """A 30-minute booking, written as the product writes one."""
    end = start + timedelta(minutes=30)
    return Booking(
        id=PydanticObjectId(), user_id=PydanticObjectId(), provider_id=provider,
        service_id=service, start=start, end=end, occupied_start=start, occupied_end=end,
        status="confirmed", created_at=now, updated_at=now,
    )  # fmt: skip


async def seed(ctx: Context, sizes: Sizes, first_day: datetime) -> tuple[Any, Any, list[datetime]]:
    """The practitioner, the service, the existing bookings; the first start of each run."""
    provider = await create_provider(ctx, name="Ada", timezone="UTC")
    every_day = [WeeklyHoursIn(weekday=d, start="00:00", end="24:00") for d in range(7)]
    await set_weekly_availability(
        ctx, str(provider.id), AvailabilityIn(rules=every_day, exceptions=[])
    )
    body = ServiceIn(name="Session", duration_minutes=MINUTES, provider_ids=[str(provider.id)])
    service = await create_service(ctx, body)
    assert provider.id is not None and service.id is not None
    now = ctx.now()
    # Run i's series is weekly on its own weekday and hour from 12:00 on: existing 30-minute
    # bookings fill the mornings (00:00 to 12:00) at random, plus one in weeks 3 and 40 of each
    # run, so every run checks against the whole year and collides exactly twice.
    firsts = [first_day + timedelta(days=i % 7, hours=12 + i // 7) for i in range(sizes.runs)]
    made = [
        existing_booking(provider.id, service.id, first + timedelta(weeks=week - 1), now)
        for first in firsts
        for week in COLLIDING
    ]
    mornings = [
        first_day + timedelta(days=d, minutes=30 * h) for d in range(364) for h in range(24)
    ]
    for start in random.Random(7).sample(mornings, sizes.existing - len(made)):
        made.append(existing_booking(provider.id, service.id, start, now))
    await Booking.get_pymongo_collection().insert_many([b.model_dump(by_alias=True) for b in made])
    claims = [
        {"_id": c, "booking_id": b.id}
        for b in made
        for c in claim_ids(str(provider.id), b.occupied_start, b.occupied_end)
    ]
    await ctx.db.slot_claims.insert_many(claims)
    return provider, service, firsts


async def measure(settings: Settings, sizes: Sizes) -> tuple[Run, list[str], bool]:
    ctx = await harness_context(settings)
    try:
        await ensure_indexes(ctx.db)
        now = ctx.now()
        first_day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        provider, service, firsts = await seed(ctx, sizes, first_day)
        admin = user(0, now, role="admin")
        clients = [user(n, now) for n in range(1, sizes.runs + 1)]
        await User.insert_many([admin, *clients])
        run, outcomes = Run(), []
        began = time.perf_counter()
        for client, first in zip(clients, firsts, strict=True):
            body = SeriesIn(
                user_id=str(client.id), service_id=str(service.id), provider_id=str(provider.id),
                rrule="FREQ=WEEKLY", start_local=first.strftime("%Y-%m-%dT%H:%M"),
                timezone="UTC", count=WEEKS,
            )  # fmt: skip
            started_at = time.perf_counter()
            made, booked = await create_series(ctx, body, admin)
            run.record("created", time.perf_counter() - started_at)
            weeks = sorted((c.start - first) // timedelta(weeks=1) + 1 for c in made.conflicts)
            outcomes.append(f"{len(booked)} booked, conflicts in weeks {weeks}")
        run.elapsed = time.perf_counter() - began
        rows = await ctx.db.bookings.find({"status": "confirmed"}).to_list()
    finally:
        await close_context(ctx)
    rows.sort(key=lambda b: b["occupied_start"])
    overlap = any(b["occupied_start"] < a["occupied_end"] for a, b in itertools.pairwise(rows))
    return run, outcomes, not overlap and len(rows) == sizes.existing + 50 * sizes.runs


def render(
    sizes: Sizes, quiet: Quiet, run: Run, outcomes: list[str], clean: bool, smoke: bool
) -> str:
    expected = f"{WEEKS - 2} booked, conflicts in weeks {list(COLLIDING)}"
    every = all(o == expected for o in outcomes)
    note = " SMOKE RUN (tiny sizes: the figures mean nothing)." if smoke else ""
    p50 = run.p50()  # ms
    return "\n".join(
        [
            "# Holdfast series benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}; one practitioner with {sizes.existing:,} bookings over "
            f"the next year; {quiet_note(quiet)}. Latencies in ms, in-process (the service "
            f"function `POST /api/admin/series` calls), one series at a time.{note}",
            "",
            "| Measurement | n | per s | p50 ms | p99 ms | Notes |",
            "|---|---:|---:|---:|---:|---|",
            row(
                f"Create a {WEEKS}-week series, every occurrence checked",
                run,
                f"target p50 < 200 ms: {'met' if p50 < 200 else 'missed'}",
            ),
            row(f"Every series: {expected}", None, f"{len(outcomes)} series ({verdict(every)})"),
            row("Overlap check, MongoDB scan", None, f"no two bookings overlap ({verdict(clean)})"),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(bench_parser(__doc__, RESULTS), argv)
    sizes = SMOKE if options.smoke else FULL
    quiet = wait_for_quiet(options.max_load, options.max_wait)
    with stack() as settings:
        run, outcomes, clean = asyncio.run(measure(settings, sizes))
    publish(options, render(sizes, quiet, run, outcomes, clean, options.smoke))
    return 0


if __name__ == "__main__":
    sys.exit(main())
