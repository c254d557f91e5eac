"""Retries of a booking whose first attempt did commit: the answer is the booking, and what the
first attempt would have done after its commit (events, jobs) still happens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from holdfast.bookings.models import Booking
from holdfast.context import Context
from holdfast.jobs.models import Job

from tests.conftest import Clock
from tests.integration.conftest import WRITE_CONCERN_TIMEOUT, FailCommands
from tests.support import Practice, register

MONDAY_9 = "2027-03-01T09:00:00Z"  # the first London slot of the test clock's Monday


async def eventually(check: Any) -> Any:
    """Poll `check()` until it returns something truthy (30 s: the machine may be loaded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


async def confirmation_pushed(booking_id: str) -> bool:
    """The confirmation was handed to the queue right after commit (no promoter runs here)."""
    job = await Job.find_one({"kind": "notify.confirmation", "subject": f"booking:{booking_id}"})
    return job is not None and job.state == "promoted"


async def test_a_retry_after_a_commit_whose_answer_was_lost_gets_the_booking(
    client: httpx.AsyncClient, practice: Practice, clock: Clock, fail_commands: FailCommands
) -> None:
    me = await register(client)
    keyed = {**me, "Idempotency-Key": "lost-answer"}
    body = {"service_id": practice.session, "provider_id": practice.london, "start": MONDAY_9}
    assert (await client.get("/api/bookings", headers=me)).json() == []
    # The commit happens, but its answer does not come back within the socket timeout (twice:
    # the driver retries a commit once): the client is told 503, the outcome unknown to it.
    fail_commands(["commitTransaction"], times=2, blockConnection=True, blockTimeMS=6000)
    first = await client.post("/api/bookings", json=body, headers=keyed)
    assert first.status_code == 503, first.text
    landed = await eventually(lambda: Booking.find_one(Booking.request_key != None))  # noqa: E711

    clock.advance(hours=4)  # the client retries after the start has passed
    retry = await client.post("/api/bookings", json=body, headers=keyed)
    assert retry.status_code == 201, retry.text
    assert (retry.json()["id"], retry.json()["start"]) == (str(landed.id), MONDAY_9)
    replay = await client.post("/api/bookings", json=body, headers=keyed)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (201, "true")
    # What the first attempt never got to do after its commit, the retry did.
    assert [b["id"] for b in (await client.get("/api/bookings", headers=me)).json()] == [
        str(landed.id)
    ]
    await eventually(lambda: confirmation_pushed(str(landed.id)))


async def test_a_commit_retried_by_the_driver_still_publishes_and_pushes(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, fail_commands: FailCommands
) -> None:
    me = await register(client)
    query = {"service_id": practice.session, "provider_id": practice.london, "from": "2027-03-01"}
    offered = (await client.get("/api/availability", params=query)).json()["slots"]
    assert MONDAY_9 in [s["start"] for s in offered]
    # The commit lands but answers with a write-concern timeout: its result is unknown, so the
    # transaction is run again and finds its own booking.
    fail_commands(["commitTransaction"], writeConcernError=WRITE_CONCERN_TIMEOUT)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": MONDAY_9}
    made = await client.post("/api/bookings", json=body, headers=me)
    assert made.status_code == 201, made.text
    assert await Booking.find_all().count() == 1
    after = (await client.get("/api/availability", params=query)).json()["slots"]
    assert MONDAY_9 not in [s["start"] for s in after]  # the cached availability was dropped
    await eventually(lambda: confirmation_pushed(made.json()["id"]))
