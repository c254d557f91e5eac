"""Google push channels: Google says a calendar changed, and its changes are read at once.

With `HOLDFAST_GOOGLE_PUSH`, each connected calendar has one channel (`events.watch`): opened by
a job once the calendar is connected, opened anew by the hourly `google.channels` job a day
before it expires (Google keeps a channel a week at most) or when opening it failed, and
stopped on disconnect. Google posts to `/webhooks/google/calendar` with the channel's id and the
token we gave it. The token is an HMAC of the channel id under the secret key, so a notification
is verified without a lookup and a forged one is refused (403) before anything is stored. A
notification of a calendar's current channel is stored in the webhook inbox, once per channel
message; its job (`inbox.google`) reads the calendar's changes (the incremental sync). A
notification of a channel replaced or stopped is acknowledged and ignored. The periodic read
stays: a notification lost on the way is read on the next one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import structlog
from beanie import PydanticObjectId
from holdfast.context import Context
from holdfast.errors import Forbidden
from holdfast.inbox import service as inbox
from holdfast.integrations.google import calendar
from holdfast.integrations.google.connections import (
    credentials_of,
    failed,
    stop_channel_quietly,
    worked,
)
from holdfast.integrations.google.sync import sync_calendar
from holdfast.integrations.models import GoogleConnection
from holdfast.jobs.models import Job
from holdfast.jobs.registry import Postpone

log = structlog.get_logger(__name__)
WEBHOOK_PATH = "/webhooks/google/calendar"
SOURCE = "google"  # the inbox's source: its deliveries are processed by jobs `inbox.google`
RENEW = "google.channels"
TTL = timedelta(days=7)  # asked for; Google may give less, and says when it ends
RENEW_BEFORE = timedelta(days=1)
RENEW_EVERY = timedelta(hours=1)
# Another read of the calendar was under way when a notification's job ran: it may have begun
# before the change, so the job reads again after it.
READ_AGAIN_AFTER = timedelta(seconds=5)


class ChannelTokenInvalid(Forbidden):
    code = "invalid_channel_token"


def channel_token(ctx: Context, channel_id: str) -> str:
    """The token Google sends back with every notification of this channel."""
    key = ctx.settings.secret_key.get_secret_value().encode()
    mac = hmac.new(key, f"google-channel:{channel_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def address(ctx: Context) -> str:
    return ctx.settings.public_url.rstrip("/") + WEBHOOK_PATH


async def open_channel(ctx: Context, provider_id: PydanticObjectId) -> calendar.Channel | None:
    """Open a channel on the provider's calendar and make it the current one (the one before is
    stopped); None if there is nothing to watch (push off, not connected, grant gone)."""
    connection = await GoogleConnection.get(provider_id)
    if not ctx.settings.google_push or connection is None or connection.reconnect_needed:
        return None
    channel_id = f"holdfast-{provider_id}-{secrets.token_hex(8)}"
    try:
        outcome = await calendar.watch(
            ctx.settings,
            credentials_of(ctx, connection),
            channel_id=channel_id,
            token=channel_token(ctx, channel_id),
            address=address(ctx),
            ttl=TTL,
            now=ctx.now(),
        )
    except (calendar.CalendarUnavailable, calendar.GrantRevoked) as exc:
        await failed(ctx, provider_id, exc)
        raise
    channel = outcome.result
    await worked(ctx, connection, outcome.tokens)
    current = await GoogleConnection.get_pymongo_collection().update_one(
        {"_id": provider_id, "channel_id": connection.channel_id},
        {
            "$set": {
                "channel_id": channel.id,
                "channel_resource_id": channel.resource_id,
                "channel_expires_at": channel.expires_at,
            }
        },
    )
    if current.modified_count == 0:  # disconnected meanwhile, or another opening won
        await stop_channel_quietly(ctx, connection, channel.id, channel.resource_id)
        return None
    if connection.channel_id and connection.channel_resource_id:
        await stop_channel_quietly(
            ctx, connection, connection.channel_id, connection.channel_resource_id
        )
    log.info("google.channel_opened", provider=str(provider_id), until=str(channel.expires_at))
    return channel


async def receive(
    ctx: Context,
    *,
    channel_id: str | None,
    token: str | None,
    resource_id: str | None,
    state: str | None,
    number: str | None,
) -> bool:
    """Verify a notification (its headers) and store it once; True if stored for reading."""
    given = (token or "").encode("utf-8", errors="replace")
    if not channel_id or not hmac.compare_digest(channel_token(ctx, channel_id).encode(), given):
        raise ChannelTokenInvalid("This notification does not carry a Holdfast channel's token.")
    if state == "sync":
        return False  # the channel's first message, sent when it opens: nothing changed yet
    connection = await GoogleConnection.find_one({"channel_id": channel_id})
    if connection is None or connection.channel_resource_id != resource_id:
        return False  # a channel replaced since, or of a calendar disconnected
    key = f"{channel_id}:{number or ctx.now().isoformat()}"[:200]
    payload = {"provider_id": str(connection.id), "channel_id": channel_id, "number": number}
    return await inbox.store(ctx, source=SOURCE, key=key, kind=str(state)[:50], payload=payload)


# --- jobs ----------------------------------------------------------------------------------


async def watch_calendar(ctx: Context, job: Job) -> None:
    """Open the calendar's channel (after connecting); failures retry with backoff."""
    await open_channel(ctx, PydanticObjectId(job.payload["provider_id"]))


async def renew_all(ctx: Context, job: Job) -> None:
    """The hourly look at every connected calendar's channel: one that ends within a day, or
    that was never opened, is opened anew. One that fails does not hold up the others."""
    if not ctx.settings.google_push:
        return
    soon: datetime = ctx.now() + RENEW_BEFORE
    due = GoogleConnection.get_pymongo_collection().find(
        {
            "reconnect_needed": {"$ne": True},
            "$or": [{"channel_id": None}, {"channel_expires_at": {"$lte": soon}}],
        },
        projection={"_id": 1},
    )
    for row in await due.to_list():
        try:
            await open_channel(ctx, row["_id"])
        except (calendar.CalendarUnavailable, calendar.GrantRevoked):
            continue  # recorded on the connection; tried again next hour


async def read_notified(ctx: Context, job: Job) -> None:
    """A stored notification: read the calendar's changes, then mark it processed."""
    delivery = await inbox.pending(job)
    if delivery is None:
        return
    provider_id = PydanticObjectId(str(delivery.payload["provider_id"]))
    now = ctx.now()
    if await GoogleConnection.get(provider_id) is None:
        await inbox.settle(delivery, "ignored", now, reason="The calendar was disconnected since.")
        return
    result = await sync_calendar(ctx, provider_id)  # a failure is raised: the job retries
    if result is None:
        raise Postpone(ctx.now() + READ_AGAIN_AFTER)
    changed = {"full": result.full, "changed": result.changed}
    await inbox.settle(delivery, "processed", ctx.now(), result=changed)
