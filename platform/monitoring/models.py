from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document
from pymongo import ASCENDING, IndexModel

# How long the per-minute request counters are kept (a TTL index removes older minutes).
TRAFFIC_DAYS = 400


class TrafficMinute(Document):
    """What the API processes answered in one UTC minute, summed over every process: each adds
    its own counts with `$inc` (see holdfast.monitoring.traffic). `_id` is the minute, so a
    window's figures are a range read on `_id`'s index.

    `booking` holds the booking attempts (`POST /api/bookings`): `attempts`, `booked` (201),
    `codes` ("<status>:<error code>" → count) and `latency` (bucket index → count, the bounds in
    `traffic.LATENCY_BOUNDS`)."""

    id: datetime  # type: ignore[assignment]  # the minute's start
    requests: int = 0
    server_errors: int = 0  # answered 5xx
    booking: dict[str, Any] = {}
    expires_at: datetime | None = None  # TRAFFIC_DAYS after the minute

    class Settings:
        name = "traffic_minutes"
        indexes = [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
        ]


IncidentState = Literal["open", "resolved"]


class Incident(Document):
    """One stretch of time during which an alert rule fired: opened once, resolved once, and
    each of the two notices delivered to every recipient (see holdfast.monitoring.alerts).
    At most one incident per rule is open: a partial unique index says so."""

    id: str  # type: ignore[assignment]  # "<rule>:<opened at>"
    rule: str
    state: IncidentState = "open"
    summary: str
    opened_at: datetime
    resolved_at: datetime | None = None
    # The latest thing the rule said while open (e.g. "3 messages failing").
    last_summary: str
    # Each notice is delivered once: these say which have gone, per channel.
    emailed: list[str] = []  # "opened" / "resolved"
    webhooked: list[str] = []
    last_error: str | None = None

    class Settings:
        name = "incidents"
        indexes = [
            IndexModel(
                [("rule", ASCENDING)],
                unique=True,
                partialFilterExpression={"state": "open"},
                name="one_open_per_rule",
            ),
            IndexModel([("opened_at", ASCENDING)], name="opened_at"),
        ]


class FunnelDay(Document):
    """The booking funnel of one UTC day and one service, summed over every API process:
    `views` (booking page loads: service "-"), `services` (a service chosen on the page), `slots`
    (a time selected), counted from the page's beacon (`POST /api/funnel`); `attempts` and
    `booked` (`POST /api/bookings` asked for the service; 201), counted by the API itself.
    Payments are read from the payments at query time."""

    id: str  # type: ignore[assignment]  # "YYYY-MM-DD/<service id or ->"
    views: int = 0
    services: int = 0
    slots: int = 0
    attempts: int = 0
    booked: int = 0
    expires_at: datetime | None = None

    class Settings:
        name = "funnel_days"
        indexes = [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl")
        ]
