"""Booking clients for the failover test, each in a process of its own.

A client books as a careful API client would: every booking carries an `Idempotency-Key`,
and the same request is sent again (to either API process, as behind a load balancer) after
a 503, a dropped connection or `409 request_in_progress`, until a final answer. Every
attempt is recorded (when sent, how long it took, what came back). This module imports only
what a client needs, so the processes start quickly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx

BOOKERS_PER_PROCESS = 3  # concurrent booking loops in each process, all as its one user
PAUSE = 0.15  # seconds between one booker's bookings: steady load, not a flood
RETRY_EVERY = 0.2
GIVE_UP_AFTER = 90.0  # seconds one booking may keep retrying before the client gives up
REQUEST_TIMEOUT = 20.0  # a request still unanswered after this counts as a dropped connection
RETRYABLE = ("503 database_unavailable", "409 request_in_progress")


def retryable(outcome: str) -> bool:
    """An answer that is not final: the database was unreachable, or the request is unknown."""
    return outcome in RETRYABLE or outcome.startswith("dropped")


def _answer(response: httpx.Response) -> str:
    if response.status_code in (201, 200):
        return str(response.status_code)
    try:
        code = response.json().get("error")
    except ValueError:
        code = "not-json"
    return f"{response.status_code} {code}"


async def book_until_answered(
    http: httpx.AsyncClient, urls: list[str], token: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    """One booking to its final answer, sending the same request again while it may succeed."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    attempts: list[tuple[float, float, str]] = []  # (sent, seconds, outcome)
    response: httpx.Response | None = None
    deadline = time.monotonic() + GIVE_UP_AFTER
    for n in itertools.count():
        sent, started = time.time(), time.monotonic()
        try:
            # A retry may go to the other API process, as behind a load balancer.
            response = await http.post(
                f"{urls[n % len(urls)]}/api/bookings", json=body, headers=headers
            )
            outcome = _answer(response)
        except httpx.TransportError as exc:
            response, outcome = None, f"dropped {type(exc).__name__}"
        attempts.append((sent, time.monotonic() - started, outcome))
        if not retryable(outcome) or time.monotonic() > deadline:
            break
        await asyncio.sleep(RETRY_EVERY)
    booked = response is not None and response.status_code == 201
    return {
        "key": key,
        "token": token,
        "body": body,
        "attempts": attempts,
        "final": attempts[-1][2],
        "booking_id": response.json()["id"] if booked and response else None,
    }


def run_client(
    urls: list[str],
    token: str,
    targets: list[dict[str, Any]],
    seed: int,
    stop: Any,
    booked: Any,
    out: str,
) -> None:
    """A client process: a few booking loops until `stop`; results go to `out`."""

    async def run() -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:

            async def booker(n: int) -> None:
                order = list(targets)
                random.Random(seed * 100 + n).shuffle(order)
                for i, body in enumerate(order):
                    if stop.is_set():
                        return
                    result = await book_until_answered(http, urls, token, f"c{seed}-{n}-{i}", body)
                    results.append(result)
                    if result["booking_id"]:
                        with booked.get_lock():
                            booked.value += 1
                    await asyncio.sleep(PAUSE)

            await asyncio.gather(*(booker(n) for n in range(BOOKERS_PER_PROCESS)))
        return results

    Path(out).write_text(json.dumps(asyncio.run(run())))
