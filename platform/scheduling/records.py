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
from holdfast.context import Context
from holdfast.payments.models import Payment
from holdfast.payments.schemas import PaymentOut
from holdfast.scheduling.agenda import describe
from holdfast.scheduling.models import Series
from holdfast.scheduling.schemas import AgendaItemOut, SeriesOut
from holdfast.waitlist.models import Offer
from holdfast.waitlist.schemas import AdminEntryOut, AdminOfferOut
from holdfast.waitlist.service import my_entries, names_of
from pydantic import BaseModel, Field

# Upcoming and past bookings each, at most: the full list pages at GET /api/admin/bookings
# (`user_id=`).
RECORD_BOOKINGS = 100
RECORD_PAYMENTS = 100  # the full list: GET /api/admin/payments
RECORD_OFFERS = 50

Part = Callable[[Context, User], Awaitable[dict[str, Any]]]


class ClientRecordOut(BaseModel):
    user: UserOut
    upcoming: list[AgendaItemOut] = Field(
        description="Bookings not over yet, soonest first, with practitioner, service and payment."
    )
    past: list[AgendaItemOut] = Field(description=f"The {RECORD_BOOKINGS} most recent past ones.")
    series: list[SeriesOut] = Field(description="Recurring series, newest first.")
    payments: list[PaymentOut] = Field(
        description=f"The {RECORD_PAYMENTS} most recent payments, newest first."
    )
    waitlist: list[AdminEntryOut] = Field(description="Waitlist entries, oldest first.")
    offers: list[AdminOfferOut] = Field(
        description=f"The {RECORD_OFFERS} most recent waitlist offers, newest first."
    )


async def _bookings(ctx: Context, user: User) -> dict[str, Any]:
    now = ctx.now()
    mine = Booking.find({"user_id": user.id, "end": {"$gt": now}}).sort("start", "_id")
    gone = Booking.find({"user_id": user.id, "end": {"$lte": now}}).sort("-start", "-_id")
    upcoming = await describe(await mine.limit(RECORD_BOOKINGS).to_list())
    past = await describe(await gone.limit(RECORD_BOOKINGS).to_list())
    return {
        "upcoming": [AgendaItemOut.entry(e) for e in upcoming],
        "past": [AgendaItemOut.entry(e) for e in past],
    }


async def _payments(ctx: Context, user: User) -> dict[str, Any]:
    found = Payment.find({"user_id": user.id}).sort("-created_at", "-_id")
    return {"payments": [PaymentOut.of(p) for p in await found.limit(RECORD_PAYMENTS).to_list()]}


async def _waitlist(ctx: Context, user: User) -> dict[str, Any]:
    entries = await my_entries(user)
    newest = Offer.find({"user_id": user.id}).sort("-created_at", "-_id")
    offers = await newest.limit(RECORD_OFFERS).to_list()
    names = await names_of([*entries, *offers])
    return {
        "waitlist": [AdminEntryOut.named(e, names) for e in entries],
        "offers": [AdminOfferOut.named(o, names) for o in offers],
    }


async def _series(ctx: Context, user: User) -> dict[str, Any]:
    found = await Series.find({"user_id": user.id}).sort("-created_at").to_list()
    return {"series": [SeriesOut.of(s, [], user) for s in found]}


def parts() -> list[Part]:
    return [_bookings, _series, _payments, _waitlist]


async def client_record(ctx: Context, user_id: str) -> ClientRecordOut:
    user = await get_user(user_id)
    fields: dict[str, Any] = {"user": UserOut.of(user)}
    for part in parts():
        fields.update(await part(ctx, user))
    return ClientRecordOut(**fields)
