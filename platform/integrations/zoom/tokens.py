"""One Zoom access token for every process, kept (sealed) in MongoDB.

Zoom's Server-to-Server tokens last an hour and a new one ends the one before, so processes must
not each fetch their own. Whoever finds the shared token missing, or within `REFRESH_BEFORE` of
its expiry, tries to take the document's lease (one conditional update); the one that gets it
fetches a new token and stores it, the others keep using the current one while it is still valid
or wait briefly for the new one. A 401 with a token (replaced meanwhile, or revoked) makes the
caller re-read the document before anything else (`rejected`).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from holdfast.context import Context
from holdfast.integrations.credentials import seal, unseal
from holdfast.integrations.models import SharedToken
from holdfast.integrations.zoom.client import ZoomUnavailable, fetch_token
from pymongo.errors import DuplicateKeyError

KEY = "zoom"
REFRESH_BEFORE = timedelta(minutes=5)
LEASE = timedelta(seconds=30)
WAIT_STEP = 0.1  # seconds between looks while another process fetches the token
_ME = f"{socket.gethostname()}:{os.getpid()}"


def _usable(doc: Mapping[str, Any] | None, now: datetime, margin: timedelta) -> bool:
    expires = doc.get("expires_at") if doc else None
    return bool(
        doc and doc.get("access_token") and isinstance(expires, datetime) and expires > now + margin
    )


async def access_token(ctx: Context, *, stale: str | None = None) -> str:
    """The shared token, fetched by this process only if it is due and this process holds the
    lease. `stale`: a token Zoom just refused, which must not be handed out again."""
    collection = SharedToken.get_pymongo_collection()
    secret = ctx.settings.secret_key
    deadline = asyncio.get_running_loop().time() + ctx.settings.zoom_timeout_seconds * 2
    while True:
        now = ctx.now()
        doc = await collection.find_one({"_id": KEY})
        valid = doc is not None and _usable(doc, now, timedelta(0))
        current = unseal(str(doc["access_token"]), secret) if doc is not None and valid else None
        if current == stale:
            current = None
        if current is not None and _usable(doc, now, REFRESH_BEFORE):
            return current
        seen = doc.get("access_token") if doc else None
        if await _lease(now, seen):
            return await _refresh(ctx)
        if current is not None:
            return current  # still valid; another process is fetching the next one
        if asyncio.get_running_loop().time() > deadline:
            raise ZoomUnavailable("no Zoom token: another process is fetching one")
        await asyncio.sleep(WAIT_STEP)


async def _lease(now: datetime, seen: object) -> bool:
    """Take the right to fetch the next token, if nobody holds it and the stored token is still
    the one this caller saw (else someone fetched one meanwhile: look again, do not fetch)."""
    collection = SharedToken.get_pymongo_collection()
    free = {"$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}
    try:
        taken = await collection.update_one(
            {"_id": KEY, "access_token": seen, **free},
            {
                "$set": {"lease_owner": _ME, "lease_until": now + LEASE, "updated_at": now},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        return False  # the document exists and its lease is held: the upsert collided with it
    return bool(taken.modified_count or taken.upserted_id is not None)


async def _refresh(ctx: Context) -> str:
    collection = SharedToken.get_pymongo_collection()
    try:
        token = await fetch_token(ctx.settings, ctx.now())
    except BaseException:
        await collection.update_one(
            {"_id": KEY, "lease_owner": _ME}, {"$set": {"lease_until": None}}
        )
        raise
    await collection.update_one(
        {"_id": KEY, "lease_owner": _ME},
        {
            "$set": {
                "access_token": seal(token.access_token, ctx.settings.secret_key),
                "expires_at": token.expires_at,
                "lease_until": None,
                "updated_at": ctx.now(),
            }
        },
    )
    return token.access_token
