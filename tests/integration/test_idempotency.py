"""Idempotency-Key reservations belong to the request that made them.

A request that stalls past the in-flight lease loses its reservation to the client's retry; when
the stalled request finally ends, it must neither overwrite the retry's answer nor free the
retry's reservation.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from holdfast.context import Context
from holdfast.errors import DatabaseUnavailable
from holdfast.web.idempotency import IN_FLIGHT_LEASE, RequestInProgress, run_once

from tests.conftest import Clock

BODY = b'{"start": "2027-03-03T11:00:00Z"}'


class Stalled:
    """A request's work that waits until the test lets it answer (or fail)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        self.answer = (status, body)
        self.error: Exception | None = None

    async def __call__(self) -> tuple[int, Any]:
        self.started.set()
        await self.go.wait()
        if self.error is not None:
            raise self.error
        return self.answer


async def request(ctx: Context, work: Any) -> asyncio.Task[tuple[int, Any, bool]]:
    task = asyncio.create_task(run_once(ctx, scope="bookings:u1", key="k1", body=BODY, work=work))
    return task


async def test_a_late_finish_does_not_overwrite_the_answer_of_the_request_that_took_over(
    ctx: Context, clock: Clock
) -> None:
    first = Stalled(201, {"booking": "first"})
    first_call = await request(ctx, first)
    await first.started.wait()
    clock.advance(seconds=IN_FLIGHT_LEASE.total_seconds() + 1)  # the first one looks dead

    second = Stalled(201, {"booking": "second"})
    second_call = await request(ctx, second)
    await second.started.wait()
    second.go.set()
    assert await second_call == (201, {"booking": "second"}, False)

    first.go.set()  # the stalled request wakes up and finishes
    await first_call
    replay = await run_once(ctx, scope="bookings:u1", key="k1", body=BODY, work=Stalled(500, {}))
    assert replay == (201, {"booking": "second"}, True)


async def test_a_late_failure_does_not_free_the_reservation_of_the_request_that_took_over(
    ctx: Context, clock: Clock
) -> None:
    first = Stalled(201, {})
    first.error = DatabaseUnavailable("The database is unavailable; please try again shortly.")
    first_call = await request(ctx, first)
    await first.started.wait()
    clock.advance(seconds=IN_FLIGHT_LEASE.total_seconds() + 1)

    second = Stalled(201, {"booking": "second"})
    second_call = await request(ctx, second)
    await second.started.wait()

    first.go.set()  # the first fails with a 5xx: it frees only a reservation it still holds
    with pytest.raises(DatabaseUnavailable):
        await first_call
    third = Stalled(201, {"booking": "third"})
    third.go.set()
    with pytest.raises(RequestInProgress):  # the second one is still working on it
        await run_once(ctx, scope="bookings:u1", key="k1", body=BODY, work=third)
    assert not third.started.is_set()

    second.go.set()
    assert await second_call == (201, {"booking": "second"}, False)
