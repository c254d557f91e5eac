"""What the API answered, counted per UTC minute and kept in MongoDB: booking attempts (their
outcome, error code and latency), all requests and the 5xx among them.

Why this way: the booking path is measured against a bare-MongoDB floor, so counting must add
no round trip that a response waits for. Each API process adds to an in-memory tally (a few
dict increments per request, in the metrics middleware) and a background task writes it every
`HOLDFAST_TRAFFIC_FLUSH_SECONDS` as one `$inc` upsert per minute touched (one bulk write),
whatever the traffic. MongoDB sums the processes; Prometheus' per-process counters cannot give
a month's figures after a restart, these can. A process that dies loses at most its last
flush interval of counts; a flush that fails is kept and added to the next one (so a write
whose acknowledgement was lost in a failover may be counted twice: these are figures to watch,
not a ledger).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from beanie import Document
from holdfast.clock import as_utc
from holdfast.monitoring.models import TRAFFIC_DAYS, FunnelDay, TrafficMinute
from holdfast.schemas import UtcInstant
from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.errors import PyMongoError

log = structlog.get_logger(__name__)

# Upper bounds (seconds) of the booking latency buckets; index len() is +Inf. Stored by index:
# change them only by appending.
LATENCY_BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)
BOOKING_ROUTE = ("POST", "/api/bookings")


Key = tuple[type[Document], Any]  # (the collection's model, the document's _id)


class Traffic:
    """One process's counts not yet written: per minute (`TrafficMinute`) and per day and
    service (`FunnelDay`, the booking funnel)."""

    def __init__(self) -> None:
        self._counts: dict[Key, Counter[str]] = defaultdict(Counter)

    def observe(
        self,
        at: datetime,
        method: str,
        route: str,
        status: int,
        seconds: float,
        code: str | None = None,
        service_id: str | None = None,
    ) -> None:
        """Count one answered request (`code`: the error code of a refused booking;
        `service_id`: the service a booking attempt asked for)."""
        counts = self._counts[(TrafficMinute, at.replace(second=0, microsecond=0))]
        counts["requests"] += 1
        if status >= 500:
            counts["server_errors"] += 1
        if (method, route) != BOOKING_ROUTE:
            return
        counts["booking.attempts"] += 1
        if status < 300:
            counts["booking.booked"] += 1
        else:
            safe = (code or "unknown").replace(".", "_").replace("$", "_")[:64]
            counts[f"booking.codes.{status}:{safe}"] += 1
        counts[f"booking.latency.{bisect.bisect_left(LATENCY_BOUNDS, seconds)}"] += 1
        if service_id is not None:
            self.step(at, service_id, "attempts")
            if status < 300:
                self.step(at, service_id, "booked")

    def step(self, at: datetime, service_id: str | None, step: str) -> None:
        """Count one step of the funnel (a page view has no service)."""
        self._counts[(FunnelDay, funnel_day_id(at.date(), service_id))][step] += 1

    def take(self) -> dict[Key, Counter[str]]:
        taken, self._counts = self._counts, defaultdict(Counter)
        return taken

    def give_back(self, taken: dict[Key, Counter[str]]) -> None:
        for key, counts in taken.items():
            self._counts[key].update(counts)

    async def flush(self) -> None:
        """Write what is counted so far (a bulk write per collection); on failure keep it for
        the next time."""
        taken = self.take()
        writes: dict[type[Document], list[UpdateOne]] = defaultdict(list)
        for (model, key), counts in taken.items():
            expires = _expiry(model, key)
            writes[model].append(
                UpdateOne(
                    {"_id": key},
                    {"$inc": dict(counts), "$setOnInsert": {"expires_at": expires}},
                    upsert=True,
                )
            )
        try:
            for model, batch in writes.items():
                await model.get_pymongo_collection().bulk_write(batch, ordered=False)
        except PyMongoError as exc:
            self.give_back(taken)
            log.warning("traffic.flush_failed", error=str(exc)[:200])


def funnel_day_id(day: date, service_id: str | None) -> str:
    """ "YYYY-MM-DD/<service id>" ("-" for no service): a window is a range on `_id`."""
    return f"{day.isoformat()}/{service_id or '-'}"


def _expiry(model: type[Document], key: Any) -> datetime:
    if model is TrafficMinute:
        start: datetime = key
    else:
        start = as_utc(datetime.fromisoformat(str(key)[:10]))
    return start + timedelta(days=TRAFFIC_DAYS)


async def keep_flushing(traffic: Traffic, every: float) -> None:
    """The API's background writer; a last flush when the process stops, for at most a couple of
    seconds (a stopping process never waits on a database that does not answer)."""
    try:
        while True:
            await asyncio.sleep(every)
            await traffic.flush()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(traffic.flush(), timeout=2)


class Point(BaseModel):
    """One step of the window's time series, for the dashboard's charts."""

    at: UtcInstant
    requests: int
    server_errors: int
    attempts: int
    booked: int
    p95_ms: float | None  # the booking latency bucket holding the 95th percentile


class Attempts(BaseModel):
    attempts: int
    booked: int
    success_rate: float | None  # booked / attempts; None without attempts
    refused: dict[str, int]  # "<status>:<error code>" → count
    p50_ms: float | None  # upper bounds of the latency buckets holding them
    p95_ms: float | None
    within_300ms: int  # attempts answered within 300 ms
    requests: int  # every request, any route
    server_errors: int


def _quantile_ms(histogram: Counter[int], q: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for index in range(len(LATENCY_BOUNDS) + 1):
        seen += histogram[index]
        if seen >= q * total:
            break
    bound = LATENCY_BOUNDS[min(index, len(LATENCY_BOUNDS) - 1)]
    return round(bound * 1000, 1)


def _within(histogram: Counter[int], seconds: float) -> int:
    return sum(
        n
        for index, n in histogram.items()
        if index < len(LATENCY_BOUNDS) and LATENCY_BOUNDS[index] <= seconds
    )


async def traffic_figures(
    start: datetime, end: datetime, step: timedelta
) -> tuple[Attempts, list[Point]]:
    """The window's totals and its series, one point per `step` (whole minutes), summed in
    MongoDB so a year's minutes are never read one by one."""
    collection = TrafficMinute.get_pymongo_collection()
    minutes = int(step.total_seconds() // 60)
    bin_of = {"$dateTrunc": {"date": "$_id", "unit": "minute", "binSize": minutes}}
    match = {"$match": {"_id": {"$gte": start, "$lt": end}}}
    scalars = collection.aggregate([
        match,
        {"$group": {
            "_id": bin_of,
            "requests": {"$sum": "$requests"},
            "server_errors": {"$sum": "$server_errors"},
            "attempts": {"$sum": "$booking.attempts"},
            "booked": {"$sum": "$booking.booked"},
        }},
    ])  # fmt: skip
    keyed = collection.aggregate([
        match,
        {"$project": {"bin": bin_of, "kv": {"$concatArrays": [
            {"$map": {"input": {"$objectToArray": {"$ifNull": ["$booking.codes", {}]}},
                      "in": {"k": {"$concat": ["c", "$$this.k"]}, "v": "$$this.v"}}},
            {"$map": {"input": {"$objectToArray": {"$ifNull": ["$booking.latency", {}]}},
                      "in": {"k": {"$concat": ["l", "$$this.k"]}, "v": "$$this.v"}}},
        ]}}},
        {"$unwind": "$kv"},
        {"$group": {"_id": {"bin": "$bin", "k": "$kv.k"}, "n": {"$sum": "$kv.v"}}},
    ])  # fmt: skip
    rows = {as_utc(row["_id"]): row async for row in await scalars}
    histograms: dict[datetime, Counter[int]] = defaultdict(Counter)
    refused: Counter[str] = Counter()
    async for row in await keyed:
        key, count = row["_id"]["k"], int(row["n"])
        if key.startswith("l"):
            histograms[as_utc(row["_id"]["bin"])][int(key[1:])] += count
        else:
            refused[key[1:]] += count
    total: Counter[int] = Counter()
    for histogram in histograms.values():
        total.update(histogram)
    points = []
    at = start
    while at < end:
        row = rows.get(at, {})
        points.append(
            Point(
                at=at,
                requests=row.get("requests", 0),
                server_errors=row.get("server_errors", 0),
                attempts=row.get("attempts", 0),
                booked=row.get("booked", 0),
                p95_ms=_quantile_ms(histograms.get(at, Counter()), 0.95),
            )
        )
        at += step
    # Totals from every bin, whether or not `start` falls on a bin's edge.
    attempts = sum(row["attempts"] for row in rows.values())
    booked = sum(row["booked"] for row in rows.values())
    return Attempts(
        attempts=attempts,
        booked=booked,
        success_rate=round(booked / attempts, 4) if attempts else None,
        refused=dict(refused),
        p50_ms=_quantile_ms(total, 0.5),
        p95_ms=_quantile_ms(total, 0.95),
        within_300ms=_within(total, 0.3),
        requests=sum(row["requests"] for row in rows.values()),
        server_errors=sum(row["server_errors"] for row in rows.values()),
    ), points
