"""Waitlist figures for Prometheus, all read from MongoDB at scrape time, so every API replica
agrees and none depends on which process made an offer (a worker, usually, which serves no
/metrics): offers by state and made in all, openings by status, and the cancellation-to-offer
latency histogram, counted from when each opening was freed and first offered (see
`stats.latency_histogram`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from holdfast.waitlist.models import Offer, Opening, OpeningStatus
from holdfast.waitlist.states import OfferState
from holdfast.waitlist.stats import LATENCY_BUCKETS, LatencyHistogram, latency_histogram
from prometheus_client import REGISTRY, Gauge
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric

OFFERS = Gauge("holdfast_waitlist_offers", "Offers by state", ["state"])
OPENINGS = Gauge("holdfast_waitlist_openings", "Freed slots by what became of them", ["status"])


def _le(bound: float) -> str:
    """A bucket's bound as Prometheus writes it (0.5, 1.0, 300.0)."""
    return repr(float(bound))


class _Recorded:
    """The figures MongoDB keeps, as the last scrape read them (a collector answers
    synchronously; `refresh_waitlist_gauges` reads them first)."""

    def __init__(self) -> None:
        self.latency = LatencyHistogram()
        self.offers_made = 0

    def collect(self) -> Iterator[Metric]:
        latency = self.latency
        yield HistogramMetricFamily(
            "holdfast_waitlist_offer_latency_seconds",
            "From a slot being freed to its first offer being made",
            buckets=[
                *((_le(le), n) for le, n in zip(LATENCY_BUCKETS, latency.within,
                                                            strict=True)),
                ("+Inf", latency.count),
            ],
            sum_value=latency.sum_seconds,
        )  # fmt: skip
        yield CounterMetricFamily("holdfast_waitlist_offers_made", "Offers made", self.offers_made)


RECORDED = _Recorded()
REGISTRY.register(RECORDED)


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
    RECORDED.offers_made = sum(offers.values())
    RECORDED.latency = await latency_histogram()
