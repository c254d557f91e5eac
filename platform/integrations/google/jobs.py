"""The Google Calendar job kinds: writing a booking's event, reading a calendar after it is
connected, and reading every connected calendar periodically."""

from __future__ import annotations

from datetime import timedelta

from holdfast.integrations.google.connections import SYNC_ONE
from holdfast.integrations.google.events import KIND as WRITE_EVENT
from holdfast.integrations.google.events import write_event
from holdfast.integrations.google.sync import sync_all, sync_one
from holdfast.jobs.registry import JobKind
from holdfast.settings import Settings

SYNC_ALL = "google.sync"


def kinds(settings: Settings) -> list[JobKind]:
    timeout = timedelta(seconds=settings.job_timeout_seconds)
    found = [
        # Backoff doubles up to an hour: about 10 hours of outage before an event write is dead
        # (then visible in /api/admin/jobs, and retried from there).
        JobKind(WRITE_EVENT, write_event, timeout=timeout, max_attempts=16),
        JobKind(SYNC_ONE, sync_one, timeout=timeout),
    ]
    if settings.google_enabled:
        every = timedelta(minutes=settings.google_sync_minutes)
        found.append(JobKind(SYNC_ALL, sync_all, timeout=timeout, every=every))
    return found
