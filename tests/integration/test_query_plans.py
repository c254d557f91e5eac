"""Lists that stay fast however much history there is: what MongoDB reads for them, from its
own profiler, while the API answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from holdfast.bookings.models import Booking
from holdfast.context import Context

from tests.conftest import Clock
from tests.support import Practice, build_practice


def stored_booking(practice: Practice, now: datetime, start_minutes: int) -> dict[str, Any]:
    """A confirmed 30-minute booking of the London practitioner, as the product stores it."""
    start = now + timedelta(minutes=start_minutes)
    return {
        "_id": ObjectId(), "user_id": ObjectId(), "provider_id": ObjectId(practice.london),
        "service_id": ObjectId(practice.short), "start": start,
        "end": start + timedelta(minutes=30), "occupied_start": start,
        "occupied_end": start + timedelta(minutes=30), "status": "confirmed",
        "source": "web", "created_at": now, "updated_at": now,
    }  # fmt: skip


async def bookings_fetched(
    client: httpx.AsyncClient, practice: Practice, params: dict[str, Any]
) -> tuple[int, httpx.Response]:
    """The admin's `GET /api/bookings` with `params`: how many bookings MongoDB fetched for
    it (its profiler's docsExamined), and the answer."""
    bookings = Booking.get_pymongo_collection()
    database = bookings.database
    await database.command("profile", 2)
    try:
        response = await client.get("/api/bookings", params=params, headers=practice.admin)
    finally:
        await database.command("profile", 0)
    assert response.status_code == 200, response.text
    reads = [
        entry
        async for entry in database["system.profile"].find(
            {"ns": bookings.full_name, "op": {"$in": ["query", "getmore"]}}
        )
    ]
    assert reads, "the list did not read the bookings"
    await database["system.profile"].drop()
    return sum(entry["docsExamined"] for entry in reads), response


async def test_the_admins_upcoming_list_reads_no_past_bookings(
    client: httpx.AsyncClient, ctx: Context, clock: Clock
) -> None:
    """A day of finished sessions sits inside the window the upcoming list must look back
    over (a booking may have started before now and not ended); their ends are read from the
    index, not by fetching each one."""
    practice = await build_practice(client, ctx)
    past = [stored_booking(practice, clock.now, -m) for m in range(40, 23 * 60, 5)]  # ended
    upcoming = [stored_booking(practice, clock.now, m) for m in (60, 120, 180)]
    await Booking.get_pymongo_collection().insert_many(past + upcoming)
    examined, response = await bookings_fetched(client, practice, {"when": "upcoming"})
    assert len(response.json()) == 3
    # A few more than the page's own may be looked at (the planner's choice varies); not the day
    # of finished sessions (with an index on `start` alone: 271).
    assert examined <= 3 + 2, f"{examined} bookings fetched for a list of 3 ({len(past)} past)"


async def test_a_page_of_the_admins_list_fetches_that_page_not_every_upcoming_booking(
    client: httpx.AsyncClient, ctx: Context, clock: Clock
) -> None:
    """A clinic's months of future bookings: the first page of the admin's list (and each
    next one) reads its own rows from an index in list order, instead of fetching every
    upcoming booking to sort them (what the five-year benchmark saw: a page of 100 fetching
    all of them)."""
    practice = await build_practice(client, ctx)
    # Many share a start (ties are ordered by id), as a practice's parallel sessions do; and a
    # day of finished ones inside the look-back.
    upcoming = [stored_booking(practice, clock.now, 60 + 30 * (i // 3)) for i in range(120)]
    past = [stored_booking(practice, clock.now, -m) for m in range(40, 23 * 60)]
    bookings = Booking.get_pymongo_collection()
    await bookings.insert_many(upcoming + past)
    # A database from before the list's index had the id keeps its index on (start, end): with
    # it MongoDB's planner preferred fetching and sorting every upcoming booking.
    await bookings.create_index([("start", 1), ("end", 1)], name="start_end")
    expected = [str(b["_id"]) for b in sorted(upcoming, key=lambda b: (b["start"], b["_id"]))]
    params: dict[str, Any] = {"limit": 20}
    for page in range(2):
        examined, response = await bookings_fetched(client, practice, params)
        assert [row["id"] for row in response.json()] == expected[20 * page : 20 * page + 20]
        assert examined <= 20 + 1 + 2, f"page {page + 1}: {examined} fetched for 20 (120 upcoming)"
        params["cursor"] = response.headers["X-Next-Cursor"]
