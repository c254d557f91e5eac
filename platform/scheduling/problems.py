"""Sessions of a series that cannot take place, told to every admin by email (not only logged).

The daily horizon job finds them: occurrences that came within reach but cannot be booked (the
time is taken, the practitioner does not work then, the service or practitioner was archived),
and booked sessions that no longer lie inside the working hours. Each is recorded on the series
(`conflicts`, seen in its record) and reported in the same transaction by one job per finding,
so each problem is emailed once, however often the job runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.catalog.models import Provider, Service
from holdfast.clock import iso_z
from holdfast.context import Context
from holdfast.events import Event
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.jobs.service import new_job
from holdfast.notifications.compose import account_url, every_admin, message, render_text
from holdfast.notifications.delivery import DeliveryFailed, send_once
from holdfast.notifications.timefmt import local_label
from holdfast.scheduling.models import ConflictReason, Series, SeriesConflict

KIND = "series.report"
WHY: dict[ConflictReason, str] = {
    "booked": "the time is taken",
    "outside_hours": "outside the practitioner's working hours",
    "not_offered": "the service or the practitioner no longer takes bookings",
}


def report(series: Series, found: list[SeriesConflict], now: datetime) -> Job:
    """The job that tells every admin of `found` (to be written with them, in one transaction).
    Booked sessions that stopped fitting and occurrences that cannot be booked are found by one
    run in two writes: each its own job."""
    finding = "unfit" if found[0].booking_id else "unbookable"
    problems = [
        {
            "start": iso_z(c.start),
            "reason": c.reason,
            "booked": c.booking_id is not None,  # a booked session that stopped fitting
        }
        for c in found
    ]
    return new_job(
        kind=KIND, subject=f"series:{series.id}:{finding}", run_at=now, now=now,
        payload={"series_id": str(series.id), "problems": problems}, intended=now,
    )  # fmt: skip


async def tell_admins(ctx: Context, job: Job) -> None:
    series = await Series.get(PydanticObjectId(str(job.payload["series_id"])))
    if series is None:
        return  # nothing left to report about
    client = await User.get(series.user_id)
    service = await Service.get(series.service_id)
    provider = await Provider.get(series.provider_id)
    lines = [  # in the series' own time zone: the same for every admin
        f"{local_label(datetime.fromisoformat(p['start']), series.timezone)}: "
        f"{'booked, but now ' if p['booked'] else ''}{WHY[p['reason']]}"
        for p in job.payload["problems"]
    ]
    facts = {
        "client": f"{client.name} <{client.email}>" if client else "a former client",
        "service": service.name if service else "a service",
        "provider": provider.name if provider else "a practitioner",
        "problems": lines,
        "count": len(lines),
        "account_url": account_url(ctx),
    }
    subject = "Series of {client}: {count} session(s) cannot take place".format(**facts)
    failures: list[str] = []
    for admin in await every_admin():
        if not admin.email:
            continue
        body = render_text("series_problems.txt", {**facts, "name": admin.name})
        each = message(
            "email", admin.email, subject, body,
            job_id=job.id, template="series_problems", now=ctx.now(),
        )  # fmt: skip
        try:
            await send_once(ctx, each, job.claim_token)
        except DeliveryFailed as exc:
            failures.append(str(exc))
    await ctx.events.publish(Event("message-updated"))
    if failures:  # the ones sent stay sent; a retry tries the others
        raise DeliveryFailed("; ".join(failures))


def kinds(job_timeout: timedelta) -> list[JobKind]:
    return [JobKind(KIND, tell_admins, timeout=job_timeout, backoff_base=timedelta(seconds=2))]
