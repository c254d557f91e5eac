"""Which providers have a Google Calendar connected, kept by each process for a moment.

Every booking asks it twice (is the provider's calendar busy then? should an event be written?)
and the answer is almost always "no calendar": so a process reads the connected providers' ids
(a few) at most every `max_age` seconds (monotonic time), instead of a round trip per booking,
and forgets them at once when it connects or disconnects a calendar itself. A connection made by
another process is seen here within `max_age` (`HOLDFAST_CATALOG_SNAPSHOT_SECONDS`, as the
catalog's snapshot): a booking made meanwhile is neither checked against that calendar nor
written into it, as one made a moment before connecting. One made after a disconnect elsewhere
is still looked up, and finds nothing.

Module-wide rather than on the context: the booking followups that ask it get no context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from beanie import PydanticObjectId
from holdfast.integrations.models import GoogleConnection


class ConnectedCalendars:
    def __init__(self, max_age: float = 1.0, monotonic: Callable[[], float] = time.monotonic):
        self.max_age = max_age
        self._monotonic = monotonic
        self._read: tuple[float, frozenset[PydanticObjectId]] | None = None
        self._generation = 0  # moves on every forget, so a read that overlapped one is not kept

    async def among(self, provider_ids: Iterable[PydanticObjectId]) -> set[PydanticObjectId]:
        """Those of these providers whose calendar is connected, at most `max_age` old."""
        wanted = set(provider_ids)
        if not wanted:
            return set()
        now = self._monotonic()
        if self._read is not None and now - self._read[0] < self.max_age:
            return wanted & self._read[1]
        generation = self._generation
        rows = GoogleConnection.get_pymongo_collection().find({}, projection={"_id": 1})
        connected = frozenset(row["_id"] for row in await rows.to_list())
        if self.max_age > 0 and generation == self._generation:
            self._read = (now, connected)
        return wanted & connected

    def forget(self) -> None:
        """This process connected or disconnected a calendar."""
        self._generation += 1
        self._read = None


connected_calendars = ConnectedCalendars()
