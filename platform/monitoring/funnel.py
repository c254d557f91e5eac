"""The booking funnel (seed 001): page views → a service chosen → a time selected → a booking
attempted → booked → paid, per service and per UTC day, recorded by our own server.

The page's own steps come from its beacon (`POST /api/funnel`, sent by `static/funnel.js`):
no third-party analytics, no cookie of its own, no identifier of the visitor; each request is
rate limited like any other. Attempts and bookings are counted by the API as it answers
`POST /api/bookings` (holdfast.monitoring.traffic), and payments are read from the payments.
Counts go through the same per-process tally as the request counts: no write per beacon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bson import ObjectId
from holdfast.catalog.models import Service
from holdfast.monitoring.models import FunnelDay
from holdfast.monitoring.traffic import Traffic
from holdfast.payments.models import Payment
from pydantic import BaseModel, ConfigDict, Field

Step = Literal["view", "service", "slot"]
FIELD = {"view": "views", "service": "services", "slot": "slots"}


class BeaconIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Step = Field(description="view: the booking page loaded; service: one was chosen; "
                       "slot: a time was selected.")  # fmt: skip
    service_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{24}$")


def record(traffic: Traffic, now: datetime, beacon: BeaconIn) -> None:
    service = None if beacon.step == "view" else beacon.service_id
    traffic.step(now, service, FIELD[beacon.step])


class Stage(BaseModel):
    views: int = 0  # booking page loads (the page shows every service: not per service)
    services: int = 0
    slots: int = 0
    attempts: int = 0
    booked: int = 0
    paid: int = 0


class FunnelRow(Stage):
    day: str  # YYYY-MM-DD (UTC)
    service_id: str | None  # None: the page views of the day
    service: str | None


class Conversion(BaseModel):
    """Each step's share of the step before it (None where the step before had none)."""

    chose_service: float | None  # services / views
    selected_time: float | None  # slots / services
    attempted: float | None  # attempts / slots
    booked: float | None  # booked / attempts
    paid: float | None  # paid / booked (prepaid services only pay)
    overall: float | None  # booked / views


class Funnel(BaseModel):
    total: Stage
    conversion: Conversion
    by_service: list[FunnelRow]  # the window's totals per service (day: the window's first)
    rows: list[FunnelRow]  # per day and service, oldest first


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def _paid(start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """(day, service id) → payments received, by the day the payment started."""
    rows = Payment.get_pymongo_collection().aggregate(
        [
            {
                "$match": {
                    "created_at": {"$gte": start, "$lt": end},
                    "status": {"$in": ["paid", "partially_refunded", "refunded"]},
                }
            },
            {
                "$lookup": {
                    "from": "bookings",
                    "localField": "booking_id",
                    "foreignField": "_id",
                    "as": "booking",
                    "pipeline": [{"$project": {"service_id": 1}}],
                }
            },
            {"$unwind": "$booking"},
            {
                "$group": {
                    "_id": {
                        "day": {"$dateToString": {"date": "$created_at", "format": "%Y-%m-%d"}},
                        "service": {"$toString": "$booking.service_id"},
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
    )
    return {(r["_id"]["day"], r["_id"]["service"]): r["n"] async for r in await rows}


async def funnel(start: datetime, end: datetime) -> Funnel:
    """Whole UTC days: `start` and `end` at midnight."""
    days = FunnelDay.find(
        {"_id": {"$gte": start.date().isoformat(), "$lt": end.date().isoformat()}}
    )
    found = {doc.id: doc async for doc in days}
    paid = await _paid(start, end)
    keys = set(found) | {f"{day}/{service}" for day, service in paid}
    ids = {key.split("/")[1] for key in keys} - {"-"}
    names = {
        str(s.id): s.name
        async for s in Service.find(
            {"_id": {"$in": [ObjectId(i) for i in ids if ObjectId.is_valid(i)]}}
        )
    }
    rows = []
    for key in sorted(keys):
        day, service = key.split("/")
        if service != "-" and service not in names:
            continue  # not one of ours (a beacon or attempt naming an unknown id)
        doc = found.get(key) or FunnelDay(id=key)
        rows.append(
            FunnelRow(
                day=day,
                service_id=None if service == "-" else service,
                service=names.get(service),
                views=doc.views,
                services=doc.services,
                slots=doc.slots,
                attempts=doc.attempts,
                booked=doc.booked,
                paid=paid.get((day, service), 0),
            )
        )
    total = Stage()
    per_service: dict[str, FunnelRow] = {}
    for row in rows:
        for step in Stage.model_fields:
            setattr(total, step, getattr(total, step) + getattr(row, step))
        if row.service_id is not None:
            sum_row = per_service.setdefault(
                row.service_id,
                FunnelRow(
                    day=start.date().isoformat(), service_id=row.service_id, service=row.service
                ),
            )
            for step in Stage.model_fields:
                setattr(sum_row, step, getattr(sum_row, step) + getattr(row, step))
    return Funnel(
        total=total,
        conversion=Conversion(
            chose_service=_rate(total.services, total.views),
            selected_time=_rate(total.slots, total.services),
            attempted=_rate(total.attempts, total.slots),
            booked=_rate(total.booked, total.attempts),
            paid=_rate(total.paid, total.booked),
            overall=_rate(total.booked, total.views),
        ),
        by_service=sorted(per_service.values(), key=lambda r: r.service or ""),
        rows=rows,
    )
