"""Waitlist figures for Prometheus. The latency histogram and the offer counter are observed by
the process that makes the offer (a worker); the gauges of offers by state and openings by
status are read from MongoDB at scrape time, so every API replica agrees."""

from __future__ import annotations

from holdfast.waitlist.models import Offer, Opening
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


async def refresh_waitlist_gauges() -> None:
    for name, field, gauge in (("offers", "state", OFFERS), ("openings", "status", OPENINGS)):
        model = Offer if name == "offers" else Opening
        counts = model.get_pymongo_collection().aggregate(
            [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        )
        found = {row["_id"]: row["n"] async for row in await counts}
        labels = [str(s) for s in OfferState] if name == "offers" else list(found)
        for label in labels:
            gauge.labels(label).set(found.get(label, 0))
