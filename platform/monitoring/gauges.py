"""Gauges for Prometheus that the alert rules in deploy/prometheus/alerts.yml watch, read from
MongoDB at scrape time (like the job backlog), so every API replica reports the same."""

from __future__ import annotations

from datetime import datetime

from holdfast.context import Context
from holdfast.integrations.status import failing_integrations
from holdfast.jobs.status import promoter_status
from holdfast.notifications.stats import failing_now
from prometheus_client import Gauge

PROMOTER_SILENCE = Gauge(
    "holdfast_promoter_silence_seconds",
    "Seconds since the promoter's last heartbeat (-1: no promoter has ever run)",
)
MESSAGES_FAILING = Gauge(
    "holdfast_messages_failing", "Messages whose last delivery try failed (being retried)"
)
INTEGRATIONS_FAILING = Gauge(
    "holdfast_integrations_failing", "Integrations in the failing state", ["integration"]
)
INTEGRATIONS = ("google", "zoom", "calendly", "stripe", "smtp", "sms")


async def refresh_monitoring_gauges(ctx: Context, now: datetime) -> None:
    promoter = await promoter_status(now)
    silence = promoter["last_seen_seconds"]
    PROMOTER_SILENCE.set(-1 if silence is None else silence)
    MESSAGES_FAILING.set(await failing_now())
    failing = [i.integration for i in await failing_integrations(ctx)]
    for name in INTEGRATIONS:
        INTEGRATIONS_FAILING.labels(name).set(failing.count(name))
