"""Payment figures for the admin's stats: how the window's payments ended, what was received."""

from __future__ import annotations

from datetime import datetime
from typing import get_args

from holdfast.payments.models import Payment, PaymentStatus
from pydantic import BaseModel


class Payments(BaseModel):
    by_status: dict[str, int]  # payments started in the window, by where they are now
    received: dict[str, int]  # currency → cents paid and not refunded


async def payment_figures(start: datetime, end: datetime) -> Payments:
    rows = Payment.get_pymongo_collection().aggregate(
        [
            {"$match": {"created_at": {"$gte": start, "$lt": end}}},
            {
                "$group": {
                    "_id": {"status": "$status", "currency": "$currency"},
                    "n": {"$sum": 1},
                    "kept": {"$sum": {"$subtract": ["$amount_cents", "$refunded_cents"]}},
                }
            },
        ]
    )
    by_status: dict[str, int] = dict.fromkeys(get_args(PaymentStatus), 0)
    received: dict[str, int] = {}
    async for row in await rows:
        status, currency = row["_id"]["status"], row["_id"]["currency"]
        by_status[status] = by_status.get(status, 0) + row["n"]
        if status in ("paid", "partially_refunded"):
            received[currency] = received.get(currency, 0) + row["kept"]
    return Payments(by_status=by_status, received=received)
