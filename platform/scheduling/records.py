"""A client's record as the practice sees it (`GET /api/admin/users/{id}`).

The record is assembled from parts: each domain that keeps something about a client adds one
function `(ctx, user) -> {field: value}` to `parts()` and the field to `ClientRecordOut`
(payments and waitlist entries join this way).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.schemas import UserOut
from holdfast.accounts.service import get_user
from holdfast.bookings.models import Booking
from holdfast.bookings.schemas import BookingOut
from holdfast.context import Context
from holdfast.scheduling.models import Series
from holdfast.scheduling.schemas import SeriesOut
from pydantic import BaseModel, Field

# Upcoming and past bookings each, at most: the full list pages at GET /api/bookings.
RECORD_BOOKINGS = 100

Part = Callable[[Context, User], Awaitable[dict[str, Any]]]


class ClientRecordOut(BaseModel):
    user: UserOut
    upcoming: list[BookingOut] = Field(description="Bookings not over yet, soonest first.")
    past: list[BookingOut] = Field(description=f"The {RECORD_BOOKINGS} most recent past ones.")
    series: list[SeriesOut] = Field(description="Recurring series, newest first.")


async def _bookings(ctx: Context, user: User) -> dict[str, Any]:
    now = ctx.now()
    mine = Booking.find({"user_id": user.id, "end": {"$gt": now}}).sort("start", "_id")
    gone = Booking.find({"user_id": user.id, "end": {"$lte": now}}).sort("-start", "-_id")
    return {
        "upcoming": [BookingOut.of(b) for b in await mine.limit(RECORD_BOOKINGS).to_list()],
        "past": [BookingOut.of(b) for b in await gone.limit(RECORD_BOOKINGS).to_list()],
    }


async def _series(ctx: Context, user: User) -> dict[str, Any]:
    found = await Series.find({"user_id": user.id}).sort("-created_at").to_list()
    return {"series": [SeriesOut.of(s, [], user) for s in found]}


def parts() -> list[Part]:
    return [_bookings, _series]


async def client_record(ctx: Context, user_id: str) -> ClientRecordOut:
    user = await get_user(user_id)
    fields: dict[str, Any] = {"user": UserOut.of(user)}
    for part in parts():
        fields.update(await part(ctx, user))
    return ClientRecordOut(**fields)
