"""The Google Calendar job kinds: writing a booking's event, reading a calendar after it is
connected, and reading every connected calendar periodically; with push channels, opening a
calendar's channel, reading it when Google says it changed, and renewing channels hourly."""

from __future__ import annotations

from datetime import timedelta

from holdfast.inbox import service as inbox
from holdfast.integrations.google import channels
from holdfast.integrations.google.channels import read_notified, renew_all, watch_calendar
from holdfast.integrations.google.connections import SYNC_ONE, WATCH
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
        JobKind(WATCH, watch_calendar, timeout=timeout),
        JobKind(inbox.job_kind(channels.SOURCE), read_notified, timeout=timeout),
    ]
    if settings.google_enabled:
        every = timedelta(minutes=settings.google_sync_minutes)
        found.append(JobKind(SYNC_ALL, sync_all, timeout=timeout, every=every))
    if settings.google_enabled and settings.google_push:
        renew = JobKind(channels.RENEW, renew_all, timeout=timeout, every=channels.RENEW_EVERY)
        found.append(renew)
    return found
