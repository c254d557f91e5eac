"""The Zoom job kind: keeping a video booking's meeting."""

from __future__ import annotations

from datetime import timedelta

from holdfast.integrations.zoom.meetings import KIND, keep_meeting
from holdfast.jobs.registry import JobKind
from holdfast.settings import Settings


def kinds(settings: Settings) -> list[JobKind]:
    timeout = timedelta(seconds=settings.job_timeout_seconds)
    # As Google's event writes: about ten hours of outage before the job is dead (and
    # retryable from /api/admin/jobs).
    return [JobKind(KIND, keep_meeting, timeout=timeout, max_attempts=16)]
