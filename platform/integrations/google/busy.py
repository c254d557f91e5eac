"""Busy time read from providers' Google Calendars, as availability and the booking path ask for
it: a provider's time is taken by a booking or by an event in their own calendar.

Only reads here (the sync writes `ExternalBusy`), so `holdfast.availability` can import it
without importing the rest of the integration. A provider without a connected calendar (most of
them) costs no round trip: see `connected_calendars`.
"""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId
from holdfast.clock import as_utc
from holdfast.integrations.google.connected import connected_calendars
from holdfast.integrations.models import ExternalBusy

Intervals = dict[PydanticObjectId, list[tuple[datetime, datetime]]]


async def calendar_busy(
    provider_ids: list[PydanticObjectId], start: datetime, end: datetime
) -> Intervals:
    """The calendar events of these providers that reach into [start, end)."""
    connected = await connected_calendars.among(provider_ids)
    if not connected:
        return {}
    cursor = ExternalBusy.get_pymongo_collection().find(
        {"provider_id": {"$in": list(connected)}, "end": {"$gt": start}, "start": {"$lt": end}},
        projection={"_id": 0, "provider_id": 1, "start": 1, "end": 1},
    )
    found: Intervals = {}
    for row in await cursor.to_list():
        found.setdefault(row["provider_id"], []).append((as_utc(row["start"]), as_utc(row["end"])))
    return found


async def calendar_busy_at(provider_id: PydanticObjectId, start: datetime, end: datetime) -> bool:
    """Whether the provider's calendar has busy time within [start, end)."""
    if not await connected_calendars.among([provider_id]):
        return False
    row = await ExternalBusy.get_pymongo_collection().find_one(
        {"provider_id": provider_id, "end": {"$gt": start}, "start": {"$lt": end}},
        projection={"_id": 1},
    )
    return row is not None
