"""The waitlist's figures for the admin's stats: how fast freed slots were offered, how many
were refilled and what that recovered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from holdfast.waitlist.models import Offer, Opening
from holdfast.waitlist.states import OfferState
from pydantic import BaseModel

# Upper bounds (seconds) of the cancellation-to-offer histogram's buckets; the last is +Inf.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Bucket(BaseModel):
    le: float | None  # None: +Inf
    count: int


class Spread(BaseModel):
    count: int
    p50_seconds: float | None
    p99_seconds: float | None


class WaitlistStats(BaseModel):
    freed_slots: int
    refilled_slots: int
    fill_rate: float | None  # refilled / freed slots whose chain has ended; None: none ended
    open_chains: int
    revenue_recovered: dict[str, int]  # currency → cents
    offers_by_state: dict[str, int]
    offer_latency: Spread  # from the slot being freed to its first offer
    offer_latency_histogram: list[Bucket]
    time_to_fill: Spread  # from the slot being freed to its claim


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Cancellation-to-offer latency of the openings offered: how many took at most each of
    `LATENCY_BUCKETS` (cumulative, as Prometheus counts), how many in all, and their sum."""

    within: tuple[int, ...] = (0,) * len(LATENCY_BUCKETS)
    count: int = 0
    sum_seconds: float = 0.0

    def buckets(self) -> list[Bucket]:
        return [
            *(Bucket(le=le, count=n) for le, n in zip(LATENCY_BUCKETS, self.within, strict=True)),
            Bucket(le=None, count=self.count),
        ]


def _seconds(since: str, until: str) -> dict[str, Any]:
    """Seconds from one instant of an opening to another (never below 0)."""
    return {"$max": [0, {"$divide": [{"$subtract": [f"${until}", f"${since}"]}, 1000]}]}


def _histogram() -> list[dict[str, Any]]:
    """Stages that count the openings offered into the latency buckets."""
    within = {
        f"le{n}": {"$sum": {"$cond": [{"$lte": ["$s", bound]}, 1, 0]}}
        for n, bound in enumerate(LATENCY_BUCKETS)
    }
    return [
        {"$match": {"first_offer_at": {"$ne": None}}},
        {"$project": {"s": _seconds("freed_at", "first_offer_at")}},
        {"$group": {"_id": None, "count": {"$sum": 1}, "sum": {"$sum": "$s"}, **within}},
    ]


def _histogram_of(rows: list[dict[str, Any]]) -> LatencyHistogram:
    if not rows:
        return LatencyHistogram()
    [row] = rows
    within = tuple(row[f"le{n}"] for n in range(len(LATENCY_BUCKETS)))
    return LatencyHistogram(within, row["count"], row["sum"])


async def latency_histogram() -> LatencyHistogram:
    """Of every opening, counted by MongoDB from when each was freed and first offered: the same
    whichever process made the offers, and at any replica that asks (see `metrics`)."""
    rows = await Opening.get_pymongo_collection().aggregate(_histogram())
    return _histogram_of([row async for row in rows])


def spread(values: list[float]) -> Spread:
    """The count, p50 and p99 of seconds measured in Python (the job lags of the admin's
    stats); the waitlist's own are counted by MongoDB (`_spread`)."""
    ordered = sorted(values)

    def quantile(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return Spread(count=len(ordered), p50_seconds=quantile(0.5), p99_seconds=quantile(0.99))


def _spread(until: str) -> list[dict[str, Any]]:
    """Stages for the count, p50 and p99 of the seconds from freed to `until` (where set):
    the values sorted, each quantile the value at floor(q * count)."""

    def quantile(q: float) -> dict[str, Any]:
        at = {"$min": [{"$subtract": ["$n", 1]}, {"$floor": {"$multiply": [q, "$n"]}}]}
        return {"$round": [{"$arrayElemAt": ["$all", {"$toInt": at}]}, 3]}

    return [
        {"$match": {until: {"$ne": None}}},
        {"$project": {"s": _seconds("freed_at", until)}},
        {"$sort": {"s": 1}},
        {"$group": {"_id": None, "all": {"$push": "$s"}}},
        {"$set": {"n": {"$size": "$all"}}},
        {"$project": {"_id": 0, "count": "$n", "p50_seconds": quantile(0.5),
                      "p99_seconds": quantile(0.99)}},
    ]  # fmt: skip


def _slots() -> list[dict[str, Any]]:
    def counted(condition: dict[str, Any]) -> dict[str, Any]:
        return {"$sum": {"$cond": [condition, 1, 0]}}

    return [
        {"$group": {"_id": None, "freed": {"$sum": 1},
                    "filled": counted({"$eq": ["$status", "filled"]}),
                    "ended": counted({"$ne": ["$status", "open"]})}},
    ]  # fmt: skip


def _revenue() -> list[dict[str, Any]]:
    return [
        {"$match": {"status": "filled", "currency": {"$ne": None}}},
        {"$group": {"_id": "$currency", "cents": {"$sum": "$price_cents"}}},
    ]


def _offers_by_state() -> list[dict[str, Any]]:
    offers = {"from": Offer.get_collection_name(), "localField": "_id",
              "foreignField": "opening_id", "pipeline": [{"$project": {"state": 1}}],
              "as": "offer"}  # fmt: skip
    return [
        {"$lookup": offers},
        {"$unwind": "$offer"},
        {"$group": {"_id": "$offer.state", "n": {"$sum": 1}}},
    ]


def _spread_of(rows: list[dict[str, Any]]) -> Spread:
    return Spread(**rows[0]) if rows else Spread(count=0, p50_seconds=None, p99_seconds=None)


async def waitlist_stats(start: datetime, end: datetime) -> WaitlistStats:
    """Figures of the slots freed in [start, end), and of the offers made for them, counted by
    MongoDB in one aggregation: however many there were, only the figures are read."""
    figures = {
        "slots": _slots(),
        "revenue": _revenue(),
        "offers": _offers_by_state(),
        "latency": _spread("first_offer_at"),
        "histogram": _histogram(),
        "fill": [{"$match": {"status": "filled"}}, *_spread("filled_at")],
    }
    window = {"freed_at": {"$gte": start, "$lt": end}}
    rows = await Opening.get_pymongo_collection().aggregate(
        [{"$match": window}, {"$facet": figures}]
    )
    [found] = [row async for row in rows]
    [slots] = found["slots"] or [{"freed": 0, "filled": 0, "ended": 0}]
    by_state = {str(state): 0 for state in OfferState}
    by_state.update({row["_id"]: row["n"] for row in found["offers"]})
    return WaitlistStats(
        freed_slots=slots["freed"],
        refilled_slots=slots["filled"],
        fill_rate=round(slots["filled"] / slots["ended"], 4) if slots["ended"] else None,
        open_chains=slots["freed"] - slots["ended"],
        revenue_recovered={row["_id"]: row["cents"] for row in found["revenue"]},
        offers_by_state=by_state,
        offer_latency=_spread_of(found["latency"]),
        offer_latency_histogram=_histogram_of(found["histogram"]).buckets(),
        time_to_fill=_spread_of(found["fill"]),
    )
