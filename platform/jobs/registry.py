"""Job kinds: what runs a kind, how often it may be tried, and how long one try may take."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holdfast.context import Context
    from holdfast.jobs.models import Job
    from holdfast.settings import Settings

Handler = Callable[["Context", "Job"], Awaitable[None]]


class Postpone(Exception):
    """Not a failure: the job has to wait for something (a meeting link) and runs again at
    `until`, with no error recorded."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"postponed until {until.isoformat()}")
        self.until = until


class RetryLater(Exception):
    """A try that failed because the other side asked for time (a 429 or 503 with Retry-After):
    the retry waits at least `after`, however short the backoff would be."""

    def __init__(self, message: str, *, after: timedelta | None = None) -> None:
        super().__init__(message)
        self.after = after or timedelta(0)


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int = 8
    timeout: timedelta = timedelta(seconds=60)
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(hours=1)
    # Periodic kinds run once per period of this length (see holdfast.jobs.periodic), `at` into
    # it: every=1 day, at=3 h is daily at 03:00 UTC.
    every: timedelta | None = None
    at: timedelta = timedelta(0)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter: base * 2^(attempts-1), capped, then 50-100% of it."""
        growth = int(2 ** max(attempts - 1, 0))
        ceiling: timedelta = min(self.backoff_base * growth, self.backoff_cap)
        return ceiling * random.uniform(0.5, 1.0)


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name} registered twice")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def periodic(self) -> list[JobKind]:
        return [kind for kind in self._kinds.values() if kind.every is not None]


def default_registry(settings: Settings) -> Registry:
    """Every kind the platform knows, gathered from the domains that own them."""
    from holdfast.accounts.reset import kinds as account_kinds
    from holdfast.calendly.handlers import kinds as calendly_kinds
    from holdfast.integrations.google.jobs import kinds as google_kinds
    from holdfast.integrations.zoom.jobs import kinds as zoom_kinds
    from holdfast.jobs.retention import kinds as retention_kinds
    from holdfast.monitoring.alerts import kinds as alert_kinds
    from holdfast.notifications.handlers import kinds as notification_kinds
    from holdfast.payments.handlers import kinds as payment_kinds
    from holdfast.scheduling.horizon import kinds as series_kinds
    from holdfast.waitlist.handlers import kinds as waitlist_kinds

    registry = Registry()
    timeout = timedelta(seconds=settings.job_timeout_seconds)
    for kind in [*notification_kinds(timeout), *calendly_kinds(timeout), *retention_kinds(timeout)]:
        registry.add(kind)
    for kind in [*waitlist_kinds(timeout), *series_kinds(timeout)]:
        registry.add(kind)
    for kind in [*google_kinds(settings), *zoom_kinds(settings), *payment_kinds(timeout)]:
        registry.add(kind)
    for kind in account_kinds(timeout):
        registry.add(kind)
    for kind in alert_kinds(settings):
        registry.add(kind)
    return registry
