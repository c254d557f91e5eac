"""Waitlist figures for Prometheus. The latency histogram and the offer counter are observed by
the process that makes the offer (a worker); the gauges of offers by state and openings by
status are read from MongoDB at scrape time, so every API replica agrees."""

from __future__ import annotations

from typing import get_args

from holdfast.waitlist.models import Offer, Opening, OpeningStatus
from holdfast.waitlist.states import OfferState
from prometheus_client import Counter, Gauge, Histogram

OFFER_LATENCY = Histogram(
    "holdfast_waitlist_offer_latency_seconds",
    "From a slot being freed to its first offer being made",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OFFERS_MADE = Counter("holdfast_waitlist_offers_made_total", "Offers made")
OFFERS = Gauge("holdfast_waitlist_offers", "Offers by state", ["state"])
OPENINGS = Gauge("holdfast_waitlist_openings", "Freed slots by what became of them", ["status"])


async def _count_by(model: type[Offer] | type[Opening], field: str) -> dict[str, int]:
    counts = model.get_pymongo_collection().aggregate(
        [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    )
    return {row["_id"]: row["n"] async for row in await counts}


async def refresh_waitlist_gauges() -> None:
    # Every label, so one that has emptied reads 0 rather than its last count.
    offers = await _count_by(Offer, "state")
    for state in map(str, OfferState):
        OFFERS.labels(state).set(offers.get(state, 0))
    openings = await _count_by(Opening, "status")
    for status in get_args(OpeningStatus):
        OPENINGS.labels(status).set(openings.get(status, 0))
