"""Holdfast Google Calendar benchmark: what busy time read from a calendar costs availability,
and what an incremental read of a calendar costs.

Run from the repository root:  .venv/bin/python -P bench/integrations.py [--smoke]
Starts its own mongod and queue redis-server in a temporary directory and the fake Google of
tests/fakes/google.py on loopback (driven by the real google-api-python-client), and works
in-process (no HTTP): one provider open around the clock, a 30-minute service, 200 bookings over
14 days. Times `find_availability` for those 14 days with no calendar, then again after a full
read of a calendar holding 500 events (the target: within 1.5x), then incremental reads of 100
changed events. Prints a Markdown table and writes it to bench/integrations_results.md;
`--smoke` runs it at tiny sizes in seconds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# bench.* and tests.* live in the repository, which `-P` keeps off sys.path; appended, so that
# installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.availability.service import find_availability
from holdfast.bookings.service import book_slot
from holdfast.catalog.models import Provider, Service, WeeklyHours
from holdfast.context import Context, close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import free_port, start_mongod
from holdfast.integrations.credentials import seal
from holdfast.integrations.google.connected import connected_calendars
from holdfast.integrations.google.sync import sync_calendar
from holdfast.integrations.models import ExternalBusy, GoogleConnection

from bench.jobs import Lab
from bench.lab import (
    bench_parser,
    harness_context,
    parse_options,
    publish,
    started,
    verdict,
    wait_for_quiet,
)
from tests.fakes.google import FakeGoogle

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "integrations_results.md"
DAYS = 14
TARGET = 1.5  # availability with busy time / without, p50


@dataclass(frozen=True)
class Sizes:
    bookings: int
    busy: int
    changed: int
    reads: int  # availability calls timed per series
    syncs: int  # incremental reads timed


FULL = Sizes(bookings=200, busy=500, changed=100, reads=200, syncs=20)
SMOKE = Sizes(bookings=10, busy=20, changed=5, reads=5, syncs=2)


async def timed(call: Callable[[], Awaitable[object]], times: int) -> list[float]:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        await call()
        took.append(time.perf_counter() - began)
    return took


def p50_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


async def seed(ctx: Context, sizes: Sizes, first: datetime) -> tuple[Provider, Service]:
    now = ctx.now()
    provider = Provider(
        name="Ada",
        timezone="Europe/London",
        rules=[WeeklyHours(weekday=d, start="00:00", end="24:00") for d in range(7)],
        created_at=now,
    )
    await provider.insert()
    service = Service(
        name="Session",
        duration_minutes=30,
        slot_step_minutes=30,
        provider_ids=[provider.id],
        created_at=now,
    )
    await service.insert()
    user = User(
        email="client@bench.example", email_key="client@bench.example", name="Client",
        timezone="UTC", password_hash="x", role="client", created_at=now,
    )  # fmt: skip
    await user.insert()
    spacing = timedelta(days=DAYS) / sizes.bookings
    for n in range(sizes.bookings):
        start = first + (spacing * n) // timedelta(minutes=30) * timedelta(minutes=30)
        await book_slot(
            ctx, user_id=user.id, service_id=str(service.id), provider_id=str(provider.id),  # type: ignore[arg-type]
            start=start, actor="bench", offered_only=False,
        )  # fmt: skip
    return provider, service


async def connect(ctx: Context, google: FakeGoogle, provider_id: PydanticObjectId) -> None:
    """A connection as the OAuth flow leaves it (the fake knows the refresh token)."""
    refresh = "1//bench-refresh-token"
    google.refresh_tokens[refresh] = True
    now = ctx.now()
    await GoogleConnection(
        id=provider_id, refresh_token=seal(refresh, ctx.settings.secret_key),
        connected_at=now, updated_at=now,
    ).insert()  # fmt: skip
    connected_calendars.forget()  # as connecting does


async def measure(
    lab: Lab, options: argparse.Namespace, sizes: Sizes, rows: list[str], facts: list[str]
) -> None:
    with ExitStack() as stack:
        queue = lab.redis(stack, "queue-redis")
        google = FakeGoogle(page_size=250).start()
        stack.callback(google.stop)
        settings = lab.settings("bench_integrations", queue, **google.settings())
        ctx = await harness_context(settings)
        try:
            await ensure_indexes(ctx.db)
            first = (datetime.now(UTC) + timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            provider, service = await seed(ctx, sizes, first)

            async def availability() -> object:
                return await find_availability(
                    ctx, service_id=str(service.id), provider_id=str(provider.id),
                    from_date=first.date(), days=DAYS, tz_name="UTC", limit=1000,
                )  # fmt: skip

            await timed(availability, 3)  # warm
            wait_for_quiet(options.max_load, options.max_wait)
            bare = await timed(availability, sizes.reads)

            spacing = timedelta(days=DAYS) / sizes.busy
            events = [
                google.add_busy(first + spacing * n, first + spacing * n + timedelta(minutes=45))
                for n in range(sizes.busy)
            ]
            await connect(ctx, google, provider.id)  # type: ignore[arg-type]
            began = time.perf_counter()
            result = await sync_calendar(ctx, provider.id)  # type: ignore[arg-type]
            full_read = time.perf_counter() - began
            stored = await ExternalBusy.find({"provider_id": provider.id}).count()
            facts.append(
                f"- Full read of {sizes.busy} events: {full_read * 1000:.0f} ms; "
                f"{stored} busy rows stored ({'full' if result and result.full else '?'})."
            )
            await timed(availability, 3)
            wait_for_quiet(options.max_load, options.max_wait)
            busy = await timed(availability, sizes.reads)
            ratio = p50_ms(busy) / p50_ms(bare)
            rows.append(
                f"| Availability, {DAYS} days, {sizes.bookings} bookings, no calendar | "
                f"{sizes.reads} | {p50_ms(bare):.1f} | |"
            )
            rows.append(
                f"| Availability, {DAYS} days, {sizes.bookings} bookings, {sizes.busy} busy events "
                "| "
                f"{sizes.reads} | {p50_ms(busy):.1f} | |"
            )
            rows.append(
                f"| Ratio with / without busy events, p50 | | {ratio:.2f}x | target <= {TARGET}x: "
                f"{verdict(ratio <= TARGET)} |"
            )

            syncs: list[float] = []
            checks: list[bool] = []
            for round_ in range(sizes.syncs):
                # Half the changes are events deleted, half are new ones.
                gone = sizes.changed // 2
                for event in events[round_ * gone : (round_ + 1) * gone]:  # never one twice
                    google.remove(event)
                hour = first + timedelta(days=DAYS + round_)
                for n in range(sizes.changed - gone):
                    events.append(
                        google.add_busy(
                            hour + timedelta(minutes=n), hour + timedelta(minutes=n + 30)
                        )
                    )
                began = time.perf_counter()
                read = await sync_calendar(ctx, provider.id)  # type: ignore[arg-type]
                syncs.append(time.perf_counter() - began)
                right = read is not None and not read.full and read.changed == sizes.changed
                checks.append(right)
            rows.append(
                f"| Incremental read, {sizes.changed} events changed | {sizes.syncs} | "
                f"{p50_ms(syncs):.1f} | counts read: {verdict(all(checks))} |"
            )
        finally:
            await close_context(ctx)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(bench_parser(__doc__ or "", RESULTS), argv)
    sizes = SMOKE if options.smoke else FULL
    rows: list[str] = []
    facts: list[str] = []
    began = time.perf_counter()
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-integrations-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        asyncio.run(measure(Lab(root, mongo), options, sizes, rows, facts))
    report = "\n".join(
        [
            "# Google Calendar: availability with busy time, incremental reads",
            "",
            "| Measurement | n | p50 ms | notes |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            *facts,
            f"- In-process (no HTTP), one provider open all week, 30-minute slots; "
            f"whole run {time.perf_counter() - began:.0f} s.",
            "",
        ]
    )
    publish(options, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
