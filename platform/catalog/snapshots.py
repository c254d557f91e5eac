"""Services with their providers, kept by each process for a moment.

Every booking request reads its service and the providers that offer it, and they change
rarely, so a process keeps what it read for up to `max_age` seconds (monotonic time). When this
process changes the catalog, it forgets everything at once; a change made by another process is
seen here within `max_age`. A booking made meanwhile is checked against hours a moment old; the
no-overlap guarantee does not depend on them.

The booking path and the jobs and flows that follow bookings (moves, series, waitlist offers,
payments, messages, Calendly) read through here. Availability does not: its responses are
cached in Redis under generation counters, so it reads the catalog afresh rather than store an
old snapshot under a new generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from holdfast.catalog.models import Provider, Service
from holdfast.catalog.service import service_with_providers
from holdfast.events import Event

CATALOG_EVENTS = frozenset({"service-updated", "provider-updated", "availability-changed"})
MAX_ENTRIES = 1000  # services are few; past this the map is simply emptied


class CatalogSnapshots:
    def __init__(self, max_age: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, Service, list[Provider]]] = {}
        self._generation = 0  # moves on every forget, so a read that overlapped one is not kept

    async def service_with_providers(self, service_id: str) -> tuple[Service, list[Provider]]:
        """As `holdfast.catalog.service.service_with_providers`, at most `max_age` old.

        The caller must not change what it gets: the same objects serve later requests."""
        now = self._monotonic()
        held = self._entries.get(service_id)
        if held is not None and now - held[0] < self.max_age:
            return held[1], held[2]
        generation = self._generation
        service, providers = await service_with_providers(service_id)
        if self.max_age > 0 and generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[service_id] = (now, service, providers)
        return service, providers

    async def forget(self, event: Event) -> None:
        """An event-bus listener: this process changed the catalog."""
        if event.name in CATALOG_EVENTS:
            self._generation += 1
            self._entries.clear()
