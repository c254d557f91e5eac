"""Revenue: what was paid minus what was refunded, per period and currency, from one MongoDB
aggregation over the payments' append-only histories (cash basis: a payment counts when it
was paid, a refund when it was made). The admin's payments section and `GET /api/admin/stats`
read it; so can any other domain's figures (`revenue(...)`, `payment_stats(...)`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from holdfast.clock import as_utc
from holdfast.payments.models import Payment
from holdfast.schemas import UtcInstant
from pydantic import BaseModel

Period = Literal["day", "week", "month"]
REFUNDED = ("refunded", "partially_refunded")


class RevenueRow(BaseModel):
    start: UtcInstant | None  # the period's first instant (None: the whole window)
    currency: str
    paid_cents: int
    refunded_cents: int
    net_cents: int
    payments: int  # payments received in the period


class PaymentStats(BaseModel):
    revenue: list[RevenueRow]  # per currency, over the window
    by_status: dict[str, int]  # payments created in the window, by status now


async def revenue(
    lo: datetime, hi: datetime, period: Period | None = None, tz: str = "UTC"
) -> list[RevenueRow]:
    """Paid, refunded and net per `period` (days, weeks from Monday, months, in `tz`) and
    currency, over [lo, hi); no period: one row per currency for the whole window."""
    when, moves = {"$gte": lo, "$lt": hi}, {"$in": ["paid", *REFUNDED]}
    is_paid = {"$eq": ["$history.to", "paid"]}
    bucket: Any = None
    if period is not None:
        bucket = {"$dateTrunc": {"date": "$history.at", "unit": period, "timezone": tz}}
        if period == "week":
            bucket["$dateTrunc"]["startOfWeek"] = "monday"
    pipeline: list[dict[str, Any]] = [
        # On the multikey index over the histories' instants; then only the moves in the window.
        {"$match": {"history": {"$elemMatch": {"at": when, "to": moves}}}},
        {"$unwind": "$history"},
        {"$match": {"history.at": when, "history.to": moves}},
        {
            "$group": {
                "_id": {"start": bucket, "currency": "$currency"},
                "paid": {"$sum": {"$cond": [is_paid, "$amount_cents", 0]}},
                "refunded": {"$sum": {"$cond": [is_paid, 0, "$history.refund_cents"]}},
                "payments": {"$sum": {"$cond": [is_paid, 1, 0]}},
            }
        },
        {"$sort": {"_id.start": 1, "_id.currency": 1}},
    ]
    rows = await Payment.get_pymongo_collection().aggregate(pipeline)
    return [
        RevenueRow(
            start=as_utc(row["_id"]["start"]) if row["_id"]["start"] else None,
            currency=row["_id"]["currency"],
            paid_cents=row["paid"],
            refunded_cents=row["refunded"],
            net_cents=row["paid"] - row["refunded"],
            payments=row["payments"],
        )
        async for row in rows
    ]


async def payment_stats(lo: datetime, hi: datetime) -> PaymentStats:
    """The payments part of the admin's stats over [lo, hi)."""
    counted = Payment.get_pymongo_collection().aggregate(
        [
            {"$match": {"created_at": {"$gte": lo, "$lt": hi}}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
    )
    by_status = {row["_id"]: row["n"] async for row in await counted}
    return PaymentStats(revenue=await revenue(lo, hi), by_status=by_status)
