"""Reading a provider's Google Calendar into busy time.

`events.list` with the sync token of the last read returns only what changed (cancelled events
included); without one (the first read, or after Google answered 410 because the token grew too
old) everything from a day ago on is read, under a new generation, and the rows of older
generations are dropped only once that read is complete: until then the busy time read before
stays in force. Pages are followed with `nextPageToken`; the last page carries the next sync
token. One read at a time per calendar (a lease on the connection): the periodic job and an
admin's "sync now" may meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import structlog
from beanie import PydanticObjectId
from holdfast.catalog.models import Provider
from holdfast.catalog.service import get_provider
from holdfast.context import Context
from holdfast.events import Event
from holdfast.integrations.google import calendar
from holdfast.integrations.google.connections import (
    GoogleNotConnected,
    GoogleReconnectNeeded,
    GoogleUnavailable,
    credentials_of,
    failed,
    require_google,
    worked,
)
from holdfast.integrations.models import ExternalBusy, GoogleConnection
from holdfast.jobs.models import Job
from pymongo import DeleteOne, UpdateOne

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=5)
# Rows of events that ended longer ago than this are dropped by the periodic job.
KEEP_PAST = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SyncResult:
    full: bool  # everything was read (no sync token, or it had expired)
    changed: int  # events read
    busy: int  # of which busy time (kept or updated)


async def sync_calendar(ctx: Context, provider_id: PydanticObjectId) -> SyncResult | None:
    """Read the calendar's changes into busy time; None if another read holds the calendar.
    A failure marks the connection failing (and is raised, for a job to retry)."""
    connection = await _lease(ctx, provider_id)
    if connection is None:
        return None
    try:
        result = await _read(ctx, connection)
    except (calendar.CalendarUnavailable, calendar.GrantRevoked) as exc:
        await failed(ctx, provider_id, exc)
        log.warning("google.sync_failed", provider=str(provider_id), error=str(exc))
        raise
    finally:
        await GoogleConnection.get_pymongo_collection().update_one(
            {"_id": provider_id}, {"$set": {"sync_lease_until": None}}
        )
    if result.full or result.changed:
        await ctx.events.publish(busy_changed(provider_id))
    log.info("google.synced", provider=str(provider_id), full=result.full, changed=result.changed)
    return result


async def read_now(ctx: Context, provider_id: str) -> tuple[Provider, SyncResult | None]:
    """An admin's "read now": the provider, and what was read (None: another read was under
    way). A calendar that cannot be read is an error the admin sees; the busy time read before
    stays in force."""
    require_google(ctx)
    provider = await get_provider(provider_id)
    if await GoogleConnection.get(provider.id) is None:
        raise GoogleNotConnected(f"{provider.name}'s Google Calendar is not connected.")
    try:
        return provider, await sync_calendar(ctx, provider.id)  # type: ignore[arg-type]
    except calendar.CalendarUnavailable as exc:
        raise GoogleUnavailable(
            f"Google Calendar could not be read ({exc}); the busy time read before stays in "
            "force and the calendar is read again shortly."
        ) from None
    except calendar.GrantRevoked as exc:
        raise GoogleReconnectNeeded(
            f"Google refused access ({exc}): connect {provider.name}'s calendar again. The "
            "busy time read before stays in force until then."
        ) from None


async def _lease(ctx: Context, provider_id: PydanticObjectId) -> GoogleConnection | None:
    now = ctx.now()
    found = await GoogleConnection.get_pymongo_collection().find_one_and_update(
        {
            "_id": provider_id,
            "$or": [{"sync_lease_until": None}, {"sync_lease_until": {"$lte": now}}],
        },
        {"$set": {"sync_lease_until": now + LEASE}},
    )
    return GoogleConnection.model_validate(found) if found else None


async def _read(ctx: Context, connection: GoogleConnection) -> SyncResult:
    provider = await Provider.get(connection.id)
    tz: tzinfo = ZoneInfo(provider.timezone) if provider else UTC
    try:
        return await _pages(ctx, connection, tz, connection.sync_token)
    except calendar.SyncTokenExpired:
        log.info("google.sync_token_expired", provider=str(connection.id))
        return await _pages(ctx, connection, tz, None)


async def _pages(
    ctx: Context, connection: GoogleConnection, tz: tzinfo, sync_token: str | None
) -> SyncResult:
    full = sync_token is None
    generation = connection.generation + 1 if full else connection.generation
    credentials = credentials_of(ctx, connection)
    page_token: str | None = None
    changed = busy = 0
    while True:
        outcome = await calendar.list_events(
            ctx.settings, credentials, sync_token=sync_token, page_token=page_token, now=ctx.now()
        )
        page = outcome.result
        changed += len(page.events)
        busy += await _keep(connection.id, page.events, tz, generation, ctx.now())
        if page.next_page_token is None:
            break
        page_token = page.next_page_token
    if full:  # the new read is complete: what it did not see is gone
        await ExternalBusy.get_pymongo_collection().delete_many(
            {"provider_id": connection.id, "generation": {"$lt": generation}}
        )
    await GoogleConnection.get_pymongo_collection().update_one(
        {"_id": connection.id},
        {
            "$set": {
                "sync_token": page.next_sync_token,
                "generation": generation,
                "last_synced_at": ctx.now(),
            }
        },
    )
    await worked(ctx, connection, outcome.tokens)
    return SyncResult(full=full, changed=changed, busy=busy)


async def _keep(
    provider_id: PydanticObjectId,
    events: list[calendar.ReadEvent],
    tz: tzinfo,
    generation: int,
    now: datetime,
) -> int:
    """Write one page's events as busy rows (or drop them: cancelled, free, our own)."""
    writes: list[UpdateOne | DeleteOne] = []
    for event in events:
        key = f"{provider_id}:{event.id}"
        interval = _interval(event, tz) if event.busy else None
        if interval is None:
            writes.append(DeleteOne({"_id": key}))
            continue
        row = {
            "provider_id": provider_id,
            "start": interval[0],
            "end": interval[1],
            "generation": generation,
            "updated_at": now,
        }
        writes.append(UpdateOne({"_id": key}, {"$set": row}, upsert=True))
    if writes:
        await ExternalBusy.get_pymongo_collection().bulk_write(writes, ordered=False)
    return sum(isinstance(w, UpdateOne) for w in writes)


def _interval(event: calendar.ReadEvent, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The event's instants; an all-day event takes its dates whole in the provider's zone."""
    start, end = _instant(event.start, tz), _instant(event.end, tz)
    if start is None or end is None or end <= start:
        return None
    return start, end


def _instant(value: datetime | date | None, tz: tzinfo) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), tz).astimezone(UTC)


# --- jobs ----------------------------------------------------------------------------------


async def sync_one(ctx: Context, job: Job) -> None:
    """Read one calendar now (after connecting); failures retry with backoff."""
    await sync_calendar(ctx, PydanticObjectId(job.payload["provider_id"]))


async def sync_all(ctx: Context, job: Job) -> None:
    """The periodic read of every connected calendar. One that fails is marked failing and
    tried again next period; it does not hold up the others. A revoked grant is not asked again
    until the provider connects again."""
    await ExternalBusy.get_pymongo_collection().delete_many({"end": {"$lt": ctx.now() - KEEP_PAST}})
    connections = GoogleConnection.get_pymongo_collection().find(
        {"reconnect_needed": {"$ne": True}}, projection={"_id": 1}
    )
    for row in await connections.to_list():
        try:
            await sync_calendar(ctx, row["_id"])
        except (calendar.CalendarUnavailable, calendar.GrantRevoked):
            continue  # recorded on the connection


def busy_changed(provider_id: PydanticObjectId) -> Event:
    """Cached availability of this provider is stale once its calendar's busy time changed."""
    return Event("availability-changed", {"provider_id": str(provider_id)})
