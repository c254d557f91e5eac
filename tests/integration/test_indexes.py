"""Indexes the data relies on: one that cannot be built is reported loudly and named, and the
writes that need it are refused until it exists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings
from pymongo import MongoClient
from structlog.testing import capture_logs

from tests.conftest import Clock
from tests.support import build_practice, register

INDEX = "users.email_unique"


@asynccontextmanager
async def serving(
    settings: Settings, clock: Clock
) -> AsyncIterator[tuple[httpx.AsyncClient, Context]]:
    """The API with its lifespan running, without waiting for its indexes (unlike `app`)."""
    from holdfast.web.app import create_app

    application = create_app(settings, clock=clock)
    started, finished = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with application.lifespan():
            started.set()
            await finished.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, application.state.ctx
    finally:
        finished.set()
        await task


async def ready_until(client: httpx.AsyncClient, done: Any) -> httpx.Response:
    deadline = time.monotonic() + 30
    while not done(response := await client.get("/health/ready")):
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.1)
    return response


def account(email: str) -> dict[str, Any]:
    return {"email": email, "password": "correct horse", "name": "Client", "timezone": "UTC"}


@pytest.mark.fresh_database
async def test_a_unique_index_that_cannot_be_built_is_named_and_guards_its_writes(
    settings: Settings, clock: Clock
) -> None:
    settings = settings.model_copy(update={"index_retry_seconds": 0.2})
    # Two accounts with one address, written while nothing enforced uniqueness.
    with MongoClient(settings.mongo_url) as mongo:
        users = mongo.get_database(settings.mongo_database)["users"]
        twins = [
            {
                "email": email,
                "email_key": "twin@example.com",
                "name": "Twin",
                "timezone": "UTC",
                "role": "client",
                "password_hash": "x",
                "created_at": datetime(2027, 1, 1, tzinfo=UTC),
            }
            for email in ("twin@example.com", "Twin@example.com")
        ]
        users.insert_many(twins)

        with capture_logs() as logs:
            async with serving(settings, clock) as (client, _):
                failing = await ready_until(client, lambda r: r.json()["mongo"] == "index_failed")
                assert failing.status_code == 503
                assert "duplicate" in failing.json()["indexes"][INDEX]
                assert "twin@" not in failing.text.lower()  # a public page names no account

                refused = await client.post("/api/auth/register", json=account("new@example.com"))
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"] == "index_missing"
                assert INDEX in refused.json()["detail"]
                assert (await client.get("/api/services")).status_code == 200  # the rest serves
                loud = [e for e in logs if e.get("index") == INDEX]
                assert loud and loud[0]["log_level"] == "error" and "E11000" in loud[0]["error"]

                users.delete_one({"email": "Twin@example.com"})
                ready = await ready_until(client, lambda r: r.status_code == 200)
                assert ready.json()["mongo"] == "ok" and "indexes" not in ready.json()
                made = await client.post("/api/auth/register", json=account("new@example.com"))
                assert made.status_code == 201, made.text
                again = await client.post("/api/auth/register", json=account("TWIN@example.com"))
                assert (again.status_code, again.json()["error"]) == (409, "email_taken")


@pytest.mark.fresh_database
async def test_bookings_that_rely_on_a_missing_unique_index_are_refused(
    settings: Settings, clock: Clock
) -> None:
    settings = settings.model_copy(update={"index_retry_seconds": 0.2})
    with MongoClient(settings.mongo_url) as mongo:
        bookings = mongo.get_database(settings.mongo_database)["bookings"]
        bookings.insert_many([{"request_key": "someone:k1"}, {"request_key": "someone:k1"}])
        async with serving(settings, clock) as (client, ctx):
            await ready_until(client, lambda r: r.json()["mongo"] == "index_failed")
            practice = await build_practice(client, ctx)
            me = await register(client)
            slot = {"service_id": practice.session, "provider_id": practice.london}
            keyed = await client.post(
                "/api/bookings",
                json={**slot, "start": "2027-03-01T10:00:00Z"},
                headers={**me, "Idempotency-Key": "k2"},
            )
            assert (keyed.status_code, keyed.json()["error"]) == (503, "index_missing")
            assert "bookings.request_key_unique" in keyed.json()["detail"]
            plain = await client.post(
                "/api/bookings", json={**slot, "start": "2027-03-01T10:00:00Z"}, headers=me
            )
            assert plain.status_code == 201, plain.text  # needs no such index

            bookings.delete_many({"request_key": "someone:k1"})
            await ready_until(client, lambda r: r.status_code == 200)
            keyed = await client.post(
                "/api/bookings",
                json={**slot, "start": "2027-03-01T13:00:00Z"},
                headers={**me, "Idempotency-Key": "k2"},
            )
            assert keyed.status_code == 201, keyed.text


@pytest.mark.fresh_database
async def test_indexes_an_earlier_version_built_and_newer_ones_replaced_are_dropped(
    settings: Settings, clock: Clock
) -> None:
    # A database from before the list indexes ended with the id: each of these was one more
    # index for every booking's write to update.
    earlier = {
        "start": [("start", 1)],
        "start_end": [("start", 1), ("end", 1)],
        "user_time": [("user_id", 1), ("start", 1)],
        "provider_start": [("provider_id", 1), ("start", 1)],
        "service_start": [("service_id", 1), ("start", 1)],
        "status_start": [("status", 1), ("start", 1)],
    }
    with MongoClient(settings.mongo_url) as mongo:
        bookings = mongo.get_database(settings.mongo_database)["bookings"]
        for name, keys in earlier.items():
            bookings.create_index(keys, name=name)
        async with serving(settings, clock) as (client, ctx):
            await ready_until(client, lambda r: r.status_code == 200)
            await ctx.indexes.ready.wait()
            kept = set(bookings.index_information())
            assert not kept & set(earlier), kept
            assert {"start_id_end", "user_start_id", "provider_start_id"} <= kept
            # and the lists still answer, on the indexes that replaced them
            practice = await build_practice(client, ctx)
            me = await register(client)
            slot = {"service_id": practice.session, "provider_id": practice.london}
            made = await client.post(
                "/api/bookings", json={**slot, "start": "2027-03-01T10:00:00Z"}, headers=me
            )
            assert made.status_code == 201, made.text
            listed = await client.get("/api/bookings", headers=me)
            assert [b["id"] for b in listed.json()] == [made.json()["id"]]
