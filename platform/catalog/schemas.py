from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, TypeVar

from holdfast.catalog.models import Location, Price, Provider, Service, WaitlistSettings
from holdfast.schemas import EMAIL_PATTERN, NOT_BLANK, Input, TimeZoneName
from pydantic import BaseModel, Field, field_validator, model_validator

# Bookings claim time in five-minute units (see holdfast.bookings.guard); every boundary the
# catalog can produce stays on that grid so a claim never spills into a neighbour's unit.
GRID_MINUTES = 5
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
# What `check_hhmm` and `_on_grid` accept, as the OpenAPI document says it.
ClockTime = Annotated[
    str, Field(json_schema_extra={"pattern": r"^(([01]\d|2[0-3]):[0-5][05]|24:00)$"})
]
Minutes = Annotated[int, Field(json_schema_extra={"multipleOf": GRID_MINUTES})]
_Edit = TypeVar("_Edit", bound=Input)
# Ids other systems know a provider or service by (matched by the cancellation webhook).
ExternalIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)
]


def check_hhmm(value: str) -> str:
    match = _HHMM.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a time in HH:MM form")
    if int(value[3:]) % GRID_MINUTES:
        raise ValueError(f"'{value}' is not on the {GRID_MINUTES}-minute grid")
    return value


def _on_grid(value: int) -> int:
    if value % GRID_MINUTES:
        raise ValueError(f"must be a multiple of {GRID_MINUTES} minutes")
    return value


class ProviderIn(Input):
    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN)
    calendly_user_uri: str | None = Field(
        default=None, pattern=f"^https://{NOT_BLANK}+$", max_length=500
    )


class ProviderChanges(Input):
    """A partial edit (PATCH): only the fields sent change, so two admins editing different
    fields at once both keep their change. `email` and `calendly_user_uri` may be sent as null
    to clear them; `name` and `timezone` may not."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    calendly_user_uri: str | None = Field(default=None, pattern=r"^https://\S+$", max_length=500)
    external_ids: ExternalIds | None = None
    archived: bool | None = Field(
        default=None,
        description="true hides the provider from booking and availability (their bookings and "
        "history are kept); false brings them back.",
    )

    @model_validator(mode="after")
    def _required_stay_set(self) -> ProviderChanges:
        return _kept(self, ("name", "timezone", "external_ids", "archived"))


def _kept(changes: _Edit, required: tuple[str, ...]) -> _Edit:
    """A partial edit may leave a field out but not send null for one that must have a value."""
    for name in required:
        if name in changes.model_fields_set and getattr(changes, name) is None:
            raise ValueError(f"{name} cannot be cleared")
    return changes


class ProviderOut(BaseModel):
    id: str
    name: str
    timezone: str

    @classmethod
    def of(cls, provider: Provider) -> ProviderOut:
        return cls(id=str(provider.id), name=provider.name, timezone=provider.timezone)


class ProviderAdminOut(ProviderOut):
    """A provider as the admin sees it: archived ones too, with their contact and links."""

    email: str | None
    calendly_user_uri: str | None
    external_ids: list[str]
    archived: bool

    @classmethod
    def of(cls, provider: Provider) -> ProviderAdminOut:
        return cls(
            id=str(provider.id),
            **provider.model_dump(include=set(cls.model_fields) - {"id"}),
        )


class WeeklyHoursIn(Input):
    weekday: int = Field(ge=0, le=6)
    start: ClockTime
    end: ClockTime

    _times = field_validator("start", "end")(check_hhmm)

    @model_validator(mode="after")
    def _ordered(self) -> WeeklyHoursIn:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class DateOverrideIn(Input):
    date: date
    start: ClockTime | None = None
    end: ClockTime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> DateOverrideIn:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither to close the date")
        if self.start is not None and self.end is not None:
            check_hhmm(self.start)
            check_hhmm(self.end)
            if self.end <= self.start:
                raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class AvailabilityIn(Input):
    rules: list[WeeklyHoursIn] = Field(default_factory=list, max_length=200)
    exceptions: list[DateOverrideIn] = Field(default_factory=list, max_length=1000)


class AvailabilityOut(BaseModel):
    provider_id: str
    timezone: str
    rules: list[WeeklyHoursIn]
    exceptions: list[DateOverrideIn]


class WaitlistSettingsIn(Input):
    enabled: bool = True
    mode: Literal["sequential", "batch"] = Field(
        default="sequential",
        description="sequential: one person at a time, in the order they joined; batch: "
        "`batch_size` people at once, the first to claim wins.",
    )
    offer_minutes: int = Field(
        default=10, ge=1, le=24 * 60, description="How long an offer holds the slot."
    )
    batch_size: int = Field(
        default=3, ge=1, le=50, description="Offers open at once in batch mode."
    )


class PriceIn(Input):
    amount_cents: int = Field(ge=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class ServiceIn(Input):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    duration_minutes: Minutes = Field(ge=5, le=24 * 60)
    buffer_before_minutes: Minutes = Field(default=0, ge=0, le=24 * 60)
    buffer_after_minutes: Minutes = Field(default=0, ge=0, le=24 * 60)
    min_notice_minutes: int = Field(default=0, ge=0, le=365 * 24 * 60)
    reminder_minutes_before: int = Field(default=24 * 60, ge=0, le=30 * 24 * 60)
    calendly_url: str | None = Field(
        default=None, pattern=f"^https?://{NOT_BLANK}+$", max_length=500
    )
    slot_step_minutes: Minutes | None = Field(default=None, ge=5, le=24 * 60)
    price: PriceIn | None = None
    # Paid online when booked (a service without a price, or priced 0, has nothing to pay).
    prepay: bool = False
    refund_cutoff_hours: int = Field(default=24, ge=0, le=365 * 24)
    provider_ids: list[str] = Field(min_length=1, max_length=100)
    external_ids: ExternalIds = []
    waitlist: WaitlistSettingsIn | None = None
    location: Location = "in_person"

    _grid = field_validator(
        "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "slot_step_minutes"
    )(lambda v: v if v is None else _on_grid(v))


class ServiceChanges(Input):
    """A partial edit (PATCH): any subset of the creation fields (the waitlist settings and
    the location included), plus `external_ids` and `archived`. Only the fields sent change;
    bookings already made keep their times (a new duration applies to bookings made from now
    on). `description`, `calendly_url` and `price` may be cleared with null; the others may
    not."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    duration_minutes: Minutes | None = Field(default=None, ge=5, le=24 * 60)
    buffer_before_minutes: Minutes | None = Field(default=None, ge=0, le=24 * 60)
    buffer_after_minutes: Minutes | None = Field(default=None, ge=0, le=24 * 60)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=365 * 24 * 60)
    reminder_minutes_before: int | None = Field(default=None, ge=0, le=30 * 24 * 60)
    calendly_url: str | None = Field(
        default=None, pattern=f"^https?://{NOT_BLANK}+$", max_length=500
    )
    slot_step_minutes: Minutes | None = Field(default=None, ge=5, le=24 * 60)
    price: PriceIn | None = None
    provider_ids: list[str] | None = Field(default=None, min_length=1, max_length=100)
    external_ids: ExternalIds | None = None
    waitlist: WaitlistSettingsIn | None = None
    location: Location | None = None
    archived: bool | None = Field(
        default=None,
        description="true hides the service from booking and availability (its bookings and "
        "history are kept); false brings it back.",
    )

    _grid = field_validator(
        "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "slot_step_minutes"
    )(lambda v: v if v is None else _on_grid(v))

    @model_validator(mode="after")
    def _required_stay_set(self) -> ServiceChanges:
        required = set(type(self).model_fields) - {"description", "calendly_url", "price"}
        return _kept(self, tuple(sorted(required)))


class ServiceOut(BaseModel):
    id: str
    name: str
    description: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    reminder_minutes_before: int
    slot_step_minutes: int
    price: Price | None
    prepay: bool
    refund_cutoff_hours: int
    provider_ids: list[str]
    location: Location
    # Whether "Book now" through Calendly is available for this service.
    calendly: bool
    waitlist: WaitlistSettings

    @classmethod
    def of(cls, service: Service, *, calendly_default: str | None = None) -> ServiceOut:
        return cls(
            id=str(service.id),
            provider_ids=[str(p) for p in service.provider_ids],
            calendly=bool(service.calendly_url or calendly_default),
            **service.model_dump(
                include=set(cls.model_fields) - {"id", "provider_ids", "calendly"}
            ),
        )


class ServiceAdminOut(ServiceOut):
    """A service as the admin sees it: archived ones too, with their links elsewhere."""

    calendly_url: str | None
    external_ids: list[str]
    archived: bool

    @classmethod
    def of(cls, service: Service, *, calendly_default: str | None = None) -> ServiceAdminOut:
        base = ServiceOut.of(service, calendly_default=calendly_default).model_dump()
        return cls(
            **base,
            calendly_url=service.calendly_url,
            external_ids=service.external_ids,
            archived=service.archived,
        )
