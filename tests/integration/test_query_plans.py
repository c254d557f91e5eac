"""Lists that stay fast however much history there is: what MongoDB reads for them, from its
own profiler, while the API answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from bson import ObjectId
from holdfast.bookings.models import Booking
from holdfast.context import Context

from tests.conftest import Clock
from tests.support import build_practice


async def test_the_admins_upcoming_list_reads_no_past_bookings(
    client: httpx.AsyncClient, ctx: Context, clock: Clock
) -> None:
    """A day of finished sessions sits inside the window the upcoming list must look back
    over (a booking may have started before now and not ended); their ends are read from the
    index, not by fetching each one."""
    practice = await build_practice(client, ctx)
    now = clock.now

    def booking(start_minutes: int) -> dict[str, Any]:
        start = now + timedelta(minutes=start_minutes)
        return {
            "_id": ObjectId(), "user_id": ObjectId(), "provider_id": ObjectId(practice.london),
            "service_id": ObjectId(practice.short), "start": start,
            "end": start + timedelta(minutes=30), "occupied_start": start,
            "occupied_end": start + timedelta(minutes=30), "status": "confirmed",
            "source": "web", "created_at": now, "updated_at": now,
        }  # fmt: skip

    past = [booking(-minutes) for minutes in range(40, 23 * 60, 5)]  # ended, within a day
    upcoming = [booking(minutes) for minutes in (60, 120, 180)]
    bookings = Booking.get_pymongo_collection()
    await bookings.insert_many(past + upcoming)
    database = bookings.database
    await database.command("profile", 2)
    try:
        response = await client.get(
            "/api/bookings", params={"when": "upcoming"}, headers=practice.admin
        )
    finally:
        await database.command("profile", 0)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 3
    reads = [
        entry
        async for entry in database["system.profile"].find(
            {"ns": bookings.full_name, "op": "query"}
        )
    ]
    assert reads, "the list did not read the bookings"
    examined = sum(entry["docsExamined"] for entry in reads)
    # A few more than the page's own may be looked at (the planner's choice varies); not the day
    # of finished sessions (with an index on `start` alone: 271).
    assert examined <= 3 + 2, f"{examined} bookings fetched for a list of 3 ({len(past)} past)"
