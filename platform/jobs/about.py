"""What a job is about, as the console names it: the booking it works for and that booking's
client (or an offer's or a payment's), so a dead letter reads "Ann Archer's confirmation", not
an id. Read for a page of jobs at once, in a few round trips whatever the page's size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.service import users_by_id
from holdfast.bookings.models import Booking
from holdfast.db import by_id
from holdfast.jobs.models import Job
from holdfast.payments.models import Payment
from holdfast.waitlist.models import Offer


@dataclass(frozen=True, slots=True)
class About:
    booking_id: PydanticObjectId | None = None
    client: User | None = None


def _id(value: object) -> PydanticObjectId | None:
    text = str(value) if value is not None else ""
    return PydanticObjectId(text) if PydanticObjectId.is_valid(text) else None


def _named(job: Job, key: str) -> PydanticObjectId | None:
    value = job.payload.get(key)
    if key == "booking_ids" and isinstance(value, list):
        value = value[0] if value else None
    return _id(value)


async def about(jobs: Sequence[Job]) -> dict[str, About]:
    """Each job's booking and client, where its payload names a booking (or a series' bookings),
    a payment or an offer; jobs about nobody (periodic sweeps) are left out."""
    payment_ids = {p for j in jobs if (p := _named(j, "payment_id"))}
    offer_ids = {o for j in jobs if (o := _named(j, "offer_id"))}
    paid_for = {i: p.booking_id for i, p in (await by_id(Payment, payment_ids)).items()}
    offered_to = {i: o.user_id for i, o in (await by_id(Offer, offer_ids)).items()}
    booking_of: dict[str, PydanticObjectId] = {}
    for job in jobs:
        named = _named(job, "booking_id") or _named(job, "booking_ids")
        payment = _named(job, "payment_id")
        booking = named or (paid_for.get(payment) if payment else None)
        if booking is not None:
            booking_of[job.id] = booking
    bookings = await by_id(Booking, booking_of.values())
    user_of = {job_id: bookings[b].user_id for job_id, b in booking_of.items() if b in bookings}
    for job in jobs:
        offer = _named(job, "offer_id")
        if job.id not in user_of and offer in offered_to:
            user_of[job.id] = offered_to[offer]
    people = await users_by_id(user_of.values())
    return {
        job.id: About(booking_of.get(job.id), people.get(user_of[job.id]))
        for job in jobs
        if job.id in booking_of or job.id in user_of
    }
