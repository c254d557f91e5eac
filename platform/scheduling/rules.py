"""Where the practice may place a booking on a client's behalf.

A client books the slots the booking page offers. The practice may place a session at any
five-minute mark (the claim grid) that lies inside the provider's working hours, ignoring the
service's slot step and minimum notice; with `outside_hours` it may place one outside them too
(an evening session agreed by phone). Never over another booking: the claim units in the
booking's transaction refuse that, whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from holdfast.availability.service import (
    bookable,
    busy_intervals,
    date_exceptions,
    offering_provider,
    weekly_rules,
)
from holdfast.availability.slots import BusyIndex, SlotSpec, generate_slots
from holdfast.bookings.guard import UNIT
from holdfast.bookings.service import placement
from holdfast.catalog.models import Provider, Service
from holdfast.context import Context
from holdfast.errors import Invalid
from holdfast.scheduling.models import ConflictReason

_MINUTE = timedelta(minutes=1)


class OutsideHours(Invalid):
    code = "outside_hours"


@dataclass(frozen=True, slots=True)
class Offering:
    """A service and one of the providers who may take new bookings of it."""

    service: Service
    provider: Provider


async def offering(ctx: Context, service_id: str, provider_id: str) -> Offering:
    service, providers = await ctx.catalog.service_with_providers(service_id)
    provider = await offering_provider(bookable(service, providers), provider_id)
    return Offering(service, provider)


def on_grid(start: datetime) -> None:
    if start.second or start.microsecond or start.minute % (UNIT // _MINUTE):
        raise Invalid(
            "A session starts on a five-minute mark (e.g. 09:05, not 09:07).", code="off_grid"
        )


def fits_hours(provider: Provider, service: Service, start: datetime) -> bool:
    """Whether a session of `service` starting at `start` lies inside the provider's working
    hours (weekly rules and date exceptions, in the provider's zone); buffers may spill over."""
    spec = SlotSpec(
        duration=timedelta(minutes=service.duration_minutes),
        buffer_before=timedelta(0),
        buffer_after=timedelta(0),
        step=UNIT,
        min_notice=timedelta(0),
    )
    found = generate_slots(
        tz=ZoneInfo(provider.timezone),
        rules=weekly_rules(provider),
        exceptions=date_exceptions(provider),
        spec=spec,
        busy=[],
        now=start,
        window_start=start,
        window_end=start + _MINUTE,
    )
    return bool(found) and found[0].start == start


def check_placement(place: Offering, start: datetime, *, outside_hours: bool) -> None:
    """The practice's rule for one booking (see the module's docstring)."""
    on_grid(start)
    if not outside_hours and not fits_hours(place.provider, place.service, start):
        raise OutsideHours(
            "That time is outside the practitioner's working hours; send outside_hours: true "
            "to book it anyway.",
        )


async def conflicts(place: Offering, starts: list[datetime]) -> dict[datetime, ConflictReason]:
    """Why each of `starts` cannot be booked (those that can are left out), checked together:
    one read of the provider's busy time over the whole span, then the working hours of each.
    The busy time is the shared availability read, so whatever it counts as busy (bookings,
    holds, a connected calendar) a series respects too."""
    if not starts:
        return {}
    spans = {s: placement(place.service, s) for s in starts}
    low = min(p["occupied_start"] for p in spans.values())
    high = max(p["occupied_end"] for p in spans.values())
    provider_id = place.provider.id
    assert provider_id is not None
    busy = BusyIndex((await busy_intervals([provider_id], low, high))[provider_id])
    found: dict[datetime, ConflictReason] = {}
    for start, span in spans.items():
        if not busy.is_free(span["occupied_start"], span["occupied_end"]):
            found[start] = "booked"
        elif not fits_hours(place.provider, place.service, start):
            found[start] = "outside_hours"
    return found
