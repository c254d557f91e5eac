"""Pruning slot claims that lie entirely in the past.

A claim only stops a later booking from overlapping its unit, and no booking can be made in the
past, so a unit that ended long ago guards nothing. Bookings and their audit trail are kept.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from holdfast.bookings.guard import unit_of
from holdfast.bookings.models import Booking, SlotClaim


async def prune_past_claims(before: datetime, batch: int) -> AsyncGenerator[int, None]:
    """Delete, `batch` at a time, every claim whose unit ended at or before `before`; yields
    how many each batch deleted."""
    cutoff = unit_of(before)  # units below it end at or before `before`
    claims = SlotClaim.get_pymongo_collection()
    for provider in await Booking.get_pymongo_collection().distinct("provider_id"):
        low, high = claim_range(str(provider), cutoff)
        while True:
            found = [
                doc["_id"]
                async for doc in claims.find({"_id": {"$gte": low, "$lte": high}}, {"_id": 1})
                .sort("_id", 1)
                .limit(batch)
            ]
            if not found:
                break
            # The string range is only an index bound: each id's own unit decides.
            past = [claim_id for claim_id in found if _unit(claim_id) < cutoff]
            if past:
                yield (await claims.delete_many({"_id": {"$in": past}})).deleted_count
            if len(found) < batch:
                break
            low = found[-1] + "\0"  # past the last one looked at


def claim_range(provider: str, cutoff: int) -> tuple[str, str]:
    """The inclusive `_id` string range that holds the claims of `provider` with a unit below
    `cutoff`. Ids are "<provider>:<unit>" with the unit unpadded, so string order is number
    order among units of one length: units have had seven digits since 1979 and keep them
    until 2065. A unit of another length inside the range is left alone by the number check."""
    return f"{provider}:{10 ** (len(str(cutoff)) - 1)}", f"{provider}:{cutoff - 1}"


def _unit(claim_id: str) -> int:
    number = claim_id.rpartition(":")[2]
    return int(number) if number.isdigit() and number.isascii() else 2**63
