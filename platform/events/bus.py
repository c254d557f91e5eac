"""One in-process event bus. Publishing happens after the business commit and awaits the
listeners, so by the time a write's response leaves, its invalidations have been made."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

EVENT_NAMES = frozenset(
    {
        "booking-created",
        "booking-updated",
        "booking-cancelled",
        "availability-changed",
        "provider-updated",
        "service-updated",
        "user-updated",
        "job-updated",
        "message-updated",
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    # The ids the event is about, e.g. {"provider_id": "…", "user_id": "…"}.
    subjects: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in EVENT_NAMES:
            raise ValueError(f"unknown event name {self.name!r}")


Listener = Callable[[Event], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def publish(self, *events: Event) -> None:
        """Deliver to every listener; one listener failing never fails the write that happened."""
        for event in events:
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:
                    log.exception("events.listener_failed", event=event.name)
