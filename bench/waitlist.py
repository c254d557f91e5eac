"""Holdfast waitlist benchmark: from a cancel request to the offer SMS accepted by the gateway.

Run from the repository root:  .venv/bin/python -P bench/waitlist.py [--chains N]
Starts its own mongod and redis-servers in a temporary directory, the API, `holdfast promoter`
and `holdfast worker` as real processes, and a Twilio-like SMS gateway in this process. Each
chain is one booked slot with one person waiting for exactly that slot: the clock runs from
just before `POST /api/bookings/{id}/cancel` to the moment the gateway accepted the offer SMS
for that person. Then the queue Redis is killed, slots are cancelled while it is down, it comes
back empty after `--outage` seconds, and the same is timed again (and how long the chains
freed during the outage took once it was back: bounded by four promoter ticks). Waits for the
machine to be quiet before each timed part. Prints a Markdown table and writes it to
bench/waitlist_results.md; `--smoke` runs it at tiny sizes in seconds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# bench.* and tests.fakes live in the repository, which `-P` keeps off sys.path; appended, so
# that installed modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import httpx
from holdfast.accounts.service import create_or_reset_admin
from holdfast.context import close_context
from holdfast.db import ensure_indexes
from holdfast.embedded import Server, free_port, mongo_url, redis_url, start_mongod, start_redis
from holdfast.settings import Settings
from pydantic import SecretStr
from pymongo import MongoClient

from bench.lab import (
    ADMIN_EMAIL,
    NO_RATE_LIMIT,
    PASSWORD,
    Admin,
    Oddities,
    Offer,
    Quiet,
    bench_parser,
    bounded,
    expect,
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
    started,
    started_api,
    verdict,
    wait_for_quiet,
    wait_ready,
)
from tests.fakes import SmsServer

RESULTS = Path(__file__).resolve().parent / "waitlist_results.md"
CHAINS, OUTAGE_SECONDS = 200, 30.0
SMS_TIMEOUT, SETTLE = 30.0, 2.0  # seconds: one offer's wait; the wait for late doubles
TARGET_P50_MS, TARGET_P99_MS = 100.0, 500.0


@dataclass(frozen=True)
class Sizes:
    providers: int = 20
    warmup: int = 5
    during_outage: int = 20  # chains freed while the queue Redis is down


FULL = Sizes()
SMOKE = Sizes(providers=2, warmup=1, during_outage=2)
SMOKE_CHAINS, SMOKE_OUTAGE = 3, 2.0


class TimedSms(SmsServer):
    """The SMS gateway, noting when (time.monotonic()) it accepted each message, by number, and
    the wall-clock time of the first (to set beside the instants the platform wrote down)."""

    def __init__(self) -> None:
        super().__init__()
        self.offered_at: dict[str, list[float]] = {}
        self.first_wall: dict[str, float] = {}

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        at, wall = time.monotonic(), time.time()
        answer = super().answer(path, headers, body)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if "/offers/" in form.get("Body", ""):
            self.offered_at.setdefault(form.get("To", ""), []).append(at)
            self.first_wall.setdefault(form.get("To", ""), wall)
        return answer

    async def arrival(self, phone: str, patience: float) -> float | None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if found := self.offered_at.get(phone):
                return found[0]
            await asyncio.sleep(0.001)
        return None


@dataclass
class Report:
    max_load: float
    max_wait: float
    sizes: Sizes = FULL
    smoke: bool = False
    failed: bool = False
    rows: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    quiets: list[tuple[str, Quiet]] = field(default_factory=list)
    odd: Oddities = field(default_factory=Oddities)
    logs: list[str] = field(default_factory=list)

    async def wait_quiet(self, before: str) -> None:
        quiet = await asyncio.to_thread(wait_for_quiet, self.max_load, self.max_wait)
        self.quiets.append((before, quiet))
        print(f"timing {before} ({quiet_note(quiet)})", file=sys.stderr, flush=True)

    def timed(self, name: str, seconds: list[float], notes: str) -> None:
        p50, p99 = percentiles(seconds)
        targets = verdict(p50 < TARGET_P50_MS and p99 < TARGET_P99_MS)
        self.rows.append(
            f"| {name} | {len(seconds)} | p50 {p50:.1f} ms, p99 {p99:.1f} ms | target p50 < "
            f"{TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms: {targets}; {notes} |"
        )


def render(report: Report, seconds: float) -> str:
    odd = report.odd
    surprises = [f"- {n} x {key}; first: `{odd.first[key]}`" for key, n in odd.counts.items()]
    return "\n".join(
        [
            "# Holdfast waitlist benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}."
            + (
                " SMOKE RUN (tiny sizes: the figures mean nothing)." if report.sizes != FULL else ""
            ),
            "",
            "| Measurement | Chains | Result | Notes |",
            "|---|---:|---|---|",
            *report.rows,
            "",
            *report.facts,
            *(f"- Before {what}: {quiet_note(q)}." for what, q in report.quiets),
            "",
            "Unexpected outcomes (errors, lost or doubled offers, log warnings/errors):",
            "",
            *(surprises + report.logs or ["- none"]),
            "",
            f"Whole run: {seconds:.0f} s.",
            "",
        ]
    )


@dataclass(frozen=True)
class Chain:
    booking_id: str
    owner: dict[str, str]
    phone: str  # the one person waiting for exactly this slot


async def person(http: httpx.AsyncClient, n: int, phone: str | None) -> dict[str, str]:
    email = f"w{n}@bench.example"
    user = {"email": email, "password": PASSWORD, "name": f"W{n}", "timezone": "UTC",
            "phone": phone}  # fmt: skip
    expect(await http.post("/api/auth/register", json=user), 201)
    return await login(http, email)


async def chain(http: httpx.AsyncClient, n: int, slot: Offer) -> Chain:
    """A booked slot and one person waiting for exactly it (its provider, its window)."""
    phone = f"+1555{n:07d}"
    owner, waiting = await person(http, 2 * n, None), await person(http, 2 * n + 1, phone)
    body = {"service_id": slot.service_id, "provider_id": slot.provider_id, "start": slot.start}
    booked = expect(await http.post("/api/bookings", json=body, headers=owner), 201)
    wants = {"service_id": slot.service_id, "provider_id": slot.provider_id,
             "earliest": slot.start, "latest": booked["end"]}  # fmt: skip
    expect(await http.post("/api/waitlist", json=wants, headers=waiting), 201)
    return Chain(str(booked["id"]), owner, phone)


async def chains(http: httpx.AsyncClient, count: int, sizes: Sizes) -> list[Chain]:
    admin = Admin(http, await login(http, ADMIN_EMAIL))
    providers = [await admin.provider(f"Provider {i:02}") for i in range(sizes.providers)]
    service = await admin.service("Session", 30, 30, providers)
    day = datetime.now(UTC).date() + timedelta(days=2)
    found = [await offers(http, service, p, day, 3) for p in providers]
    slots = [offer for row in zip(*found, strict=False) for offer in row][:count]
    if len(slots) < count:
        raise RuntimeError(f"only {len(slots)} slots for {count} chains")
    return await bounded([chain(http, n, slot) for n, slot in enumerate(slots)])


# Wall-clock instants of each cancel request (sent, answered), by booking id.
CANCELS: dict[str, tuple[float, float]] = {}


async def cancel(http: httpx.AsyncClient, one: Chain, odd: Oddities) -> float:
    """Cancel the chain's booking; the instant just before the request was sent."""
    began, wall = time.monotonic(), time.time()
    done = await http.post(f"/api/bookings/{one.booking_id}/cancel", json={}, headers=one.owner)
    CANCELS[one.booking_id] = (wall, wall + time.monotonic() - began)
    if done.status_code != 200:
        odd.note("POST /api/bookings/{id}/cancel", str(done.status_code), done.text)
    return began


STAGES = ("cancel answered", "freed -> open job claimed", "-> notify job claimed",
          "-> SMS accepted")  # fmt: skip


def _stage_seconds(db: Any, sms: TimedSms, one: Chain) -> tuple[float, ...] | None:
    """One chain's stages (see `stages`), or None if any instant is missing."""
    opening = db.waitlist_openings.find_one({"_id": {"$regex": f"^booking:{one.booking_id}@"}})
    if opening is None or one.phone not in sms.first_wall:
        return None
    opened = db.jobs.find_one({"kind": "waitlist.open", "subject": f"opening:{opening['_id']}"})
    offer = db.waitlist_offers.find_one({"opening_id": opening["_id"]}, sort=[("created_at", 1)])
    subject = f"offer:{offer['_id']}" if offer else ""
    told = db.jobs.find_one({"kind": "waitlist.notify", "subject": subject})
    if not (opened and opened.get("started_at") and told and told.get("started_at")):
        return None
    sent, answered = CANCELS[one.booking_id]
    freed, claimed = opening["freed_at"].timestamp(), opened["started_at"].timestamp()
    notified = told["started_at"].timestamp()
    return (
        answered - sent,
        claimed - freed,
        notified - claimed,
        sms.first_wall[one.phone] - notified,
    )


def stages(mongo_url: str, sms: TimedSms, chains: list[Chain]) -> str:
    """Where a chain's time goes, p50 of each stage over `chains`, from the instants the
    platform wrote down (same machine, same clock): the cancel request until its answer; the
    cancel's transaction (the opening's `freed_at`) until a worker claimed the chain's
    `waitlist.open` job (the trip through the queue); until the offer's `waitlist.notify` job
    was claimed (the offer's reads and transaction, and the hand-over to the message job);
    until the gateway accepted the SMS."""
    with MongoClient(mongo_url, tz_aware=True) as client:
        db = client.get_database()
        found = [each for one in chains if (each := _stage_seconds(db, sms, one)) is not None]
    return "; ".join(
        f"{name} {percentiles([row[n] for row in found])[0]:.1f} ms"
        for n, name in enumerate(STAGES)
    )


async def offer_latency(
    http: httpx.AsyncClient, sms: TimedSms, one: Chain, odd: Oddities
) -> float | None:
    began = await cancel(http, one, odd)
    arrived = await sms.arrival(one.phone, SMS_TIMEOUT)
    if arrived is None:
        odd.note("offer SMS", "lost", f"nothing for {one.phone} in {SMS_TIMEOUT:g} s")
    return None if arrived is None else arrived - began


async def timed(
    http: httpx.AsyncClient, sms: TimedSms, todo: list[Chain], odd: Oddities
) -> list[float]:
    return [s for c in todo if (s := await offer_latency(http, sms, c, odd)) is not None]


@dataclass
class Lab:
    root: Path
    mongo: Server
    stack: ExitStack
    secret: str = field(default_factory=lambda: f"bench-waitlist-{os.urandom(16).hex()}")

    def queue(self, name: str, port: int) -> Server:
        return start_redis(self.root / name, port, persist=False)

    def settings(self, queue_port: int, sms: TimedSms) -> Settings:
        return Settings(
            mongo_url=mongo_url(self.mongo.port, "bench_waitlist"),
            queue_redis_url=redis_url(queue_port),
            secret_key=SecretStr(self.secret),
            sms_url=sms.url,
            rate_limit_requests=NO_RATE_LIMIT,
            registrations_per_hour=NO_RATE_LIMIT,
        )

    def platform(self, settings: Settings) -> str:
        api = self.stack.enter_context(started_api(holdfast_api(self.root, settings, free_port())))
        for command in ("promoter", "worker"):
            self.stack.enter_context(started(holdfast(self.root, settings, command)))
        return wait_ready(api, self.root / "api.log")


async def run(lab: Lab, count: int, outage: float, report: Report) -> None:
    sizes = report.sizes
    sms = TimedSms().start()
    lab.stack.callback(sms.stop)
    port = free_port()
    queue = lab.queue("queue", port)
    settings = lab.settings(port, sms)
    ctx = await harness_context(settings)
    await ensure_indexes(ctx.db)
    await create_or_reset_admin(ctx, email=ADMIN_EMAIL, password=PASSWORD)
    await close_context(ctx)
    http = http_client(lab.platform(settings))
    try:
        every = await chains(http, sizes.warmup + count + 2 * sizes.during_outage, sizes)
        warm, steady = every[: sizes.warmup], every[sizes.warmup : sizes.warmup + count]
        rest = every[sizes.warmup + count :]
        during, after = rest[: sizes.during_outage], rest[sizes.during_outage :]
        await timed(http, sms, warm, report.odd)
        await report.wait_quiet("cancel -> offer SMS, queue up")
        report.timed("Cancel -> offer SMS, queue up", await timed(http, sms, steady, report.odd),
                     f"sequential, one chain at a time, after {len(warm)} warm-up")  # fmt: skip
        report.rows.append(
            f"| Where the time goes (p50 of each stage) | {len(steady)} | "
            f"{stages(settings.mongo_url, sms, steady)} | from the instants in MongoDB |"
        )

        queue.kill()  # the queue Redis goes away; cancellations go on
        began = [await cancel(http, c, report.odd) for c in during]
        await asyncio.sleep(outage)
        queue = lab.queue("queue-again", port)  # back, and empty
        back = time.monotonic()
        caught_up = [await sms.arrival(c.phone, SMS_TIMEOUT + outage) for c in during]
        lags = [a - back for a in caught_up if a is not None]
        report.rows.append(
            f"| Chains freed during a {outage:g} s queue outage: queue back -> offer SMS | "
            f"{len(lags)} | p50 {percentiles(lags)[0]:.1f} ms, p99 {percentiles(lags)[1]:.1f} ms "
            f"| bounded by four promoter ticks; cancel -> SMS was {outage:g} s more |"
        )
        if len(lags) != len(began):
            report.odd.note("offer SMS after the outage", "lost", f"{len(began) - len(lags)}")
        await report.wait_quiet("cancel -> offer SMS, after the outage")
        report.timed("Cancel -> offer SMS, after the queue was down", await timed(
            http, sms, after, report.odd), "sequential, right after the outage")  # fmt: skip
        await asyncio.sleep(SETTLE)
        doubled = {p: len(t) for p, t in sms.offered_at.items() if len(t) > 1}
        one_each = not doubled and len(sms.offered_at) == len(every)
        report.rows.append(
            f"| Offers: one SMS per chain | {len(every)} | {len(sms.offered_at)} numbers offered, "
            f"{len(doubled)} twice | ({verdict(one_each)}) |"
        )
    finally:
        await http.aclose()
        queue.stop()
    for command in ("api", "promoter", "worker"):
        report.logs += log_summary(lab.root, command)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, RESULTS, "before each timed part,")
    parser.add_argument(
        "--chains", type=positive, default=None, metavar="N",
        help=f"timed chains with the queue up (default {CHAINS}; smoke {SMOKE_CHAINS})",
    )  # fmt: skip
    parser.add_argument(
        "--outage", type=float, default=None, metavar="S",
        help=f"how long the queue Redis is down (default {OUTAGE_SECONDS:g}; smoke "
        f"{SMOKE_OUTAGE:g})",
    )  # fmt: skip
    options = parse_options(parser, argv)
    if options.chains is None:
        options.chains = SMOKE_CHAINS if options.smoke else CHAINS
    if options.outage is None:
        options.outage = SMOKE_OUTAGE if options.smoke else OUTAGE_SECONDS
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    report = Report(args.max_load, args.max_wait, SMOKE if args.smoke else FULL, args.smoke)
    began = time.perf_counter()
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="holdfast-bench-waitlist-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        mongo = stack.enter_context(started(start_mongod(root / "mongo", free_port())))
        try:
            asyncio.run(run(Lab(root, mongo, stack), args.chains, args.outage, report))
        except Exception as exc:  # the traceback goes to stderr, the gist into the report
            traceback.print_exc()
            report.odd.note("the run", f"failed with {type(exc).__name__}", str(exc))
            report.failed = True
    publish(args, render(report, time.perf_counter() - began))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
