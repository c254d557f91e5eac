"""The waitlist's figures for the admin's stats: how fast freed slots were offered, how many
were refilled and what that recovered."""

from __future__ import annotations

from datetime import datetime

from holdfast.waitlist.models import Offer, Opening
from holdfast.waitlist.states import OfferState
from pydantic import BaseModel

# Upper bounds (seconds) of the cancellation-to-offer histogram's buckets; the last is +Inf.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# At most this many openings are read per request (the newest in the window).
MOST = 20_000


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


def spread(values: list[float]) -> Spread:
    ordered = sorted(values)

    def quantile(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return Spread(count=len(ordered), p50_seconds=quantile(0.5), p99_seconds=quantile(0.99))


def histogram(values: list[float]) -> list[Bucket]:
    bounds: list[float | None] = [*LATENCY_BUCKETS, None]
    return [
        Bucket(le=bound, count=sum(1 for v in values if bound is None or v <= bound))
        for bound in bounds
    ]


async def waitlist_stats(start: datetime, end: datetime) -> WaitlistStats:
    """Figures of the slots freed in [start, end), and of the offers made for them."""
    window = {"freed_at": {"$gte": start, "$lt": end}}
    openings = await Opening.find(window).sort("-freed_at").limit(MOST).to_list()
    latency = [
        (o.first_offer_at - o.freed_at).total_seconds() for o in openings if o.first_offer_at
    ]
    filled = [o for o in openings if o.status == "filled"]
    ended = [o for o in openings if o.status != "open"]
    revenue: dict[str, int] = {}
    for opening in filled:
        if opening.currency:
            revenue[opening.currency] = revenue.get(opening.currency, 0) + opening.price_cents
    by_state = {str(state): 0 for state in OfferState}
    counts = Offer.get_pymongo_collection().aggregate(
        [
            {"$match": {"opening_id": {"$in": [o.id for o in openings]}}},
            {"$group": {"_id": "$state", "n": {"$sum": 1}}},
        ]
    )
    async for row in await counts:
        by_state[row["_id"]] = row["n"]
    return WaitlistStats(
        freed_slots=len(openings),
        refilled_slots=len(filled),
        fill_rate=round(len(filled) / len(ended), 4) if ended else None,
        open_chains=len(openings) - len(ended),
        revenue_recovered=revenue,
        offers_by_state=by_state,
        offer_latency=spread(latency),
        offer_latency_histogram=histogram(latency),
        time_to_fill=spread(
            [(o.filled_at - o.freed_at).total_seconds() for o in filled if o.filled_at]
        ),
    )
