"""The floors bench/webhooks.py and bench/stripe.py compare the webhooks with: a bare Litestar app.

`POST /` only returns 200. `POST /durable` parses the JSON body and inserts it into MongoDB
once, with the client's default write concern, before it returns 200: the one journaled write
the webhook's acknowledgement also waits for, and nothing else. Its database comes from
`BENCH_MONGO_URL`; without it, the route answers 503. `GET /health/ready` lets bench/run.py's
`wait_ready` see the app is up. Like the API, it freezes its start-up heap (`gc.freeze`) once
it is up.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, get, post
from pymongo import AsyncMongoClient


@asynccontextmanager
async def mongo(app: Litestar) -> AsyncIterator[None]:
    url = os.environ.get("BENCH_MONGO_URL")
    client: AsyncMongoClient[dict[str, Any]] | None = AsyncMongoClient(url) if url else None
    app.state.inbox = client.get_default_database().bare_inbox if client else None
    # As the API does when its context opens (holdfast.runtime.freeze_startup_heap): what
    # start-up made is out of the cyclic collector's sight, so neither side of the comparison
    # stalls for a full collection of its imports.
    gc.freeze()
    try:
        yield
    finally:
        if client is not None:
            await client.close()


@post("/", status_code=200)
async def acknowledge() -> None:
    return None


@post("/durable", status_code=200)
async def acknowledge_durably(request: Request[Any, Any, Any]) -> Response[None]:
    inbox = request.app.state.inbox
    if inbox is None:
        return Response(None, status_code=503)
    document = json.loads(await request.body())
    # Keyed as the API keys the delivery: by the sender's event id (Stripe's `id`), or by the
    # invitee for Calendly, whose events carry none.
    key = document["id"] if "id" in document else document["payload"]["uri"]
    # With the fields the product's delivery indexes cover (the bench gives this collection
    # the same indexes): waiting for its job, when received, from whom.
    await inbox.insert_one(
        {
            "_id": key,
            "source": "bench",
            "payload": document,
            "received_at": datetime.now(UTC),
            "status": "received",
            "job_id": None,
        }
    )
    return Response(None, status_code=200)


@get("/health/ready")
async def ready() -> None:
    return None


app = Litestar([acknowledge, acknowledge_durably, ready], lifespan=[mongo])
