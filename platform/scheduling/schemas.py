from __future__ import annotations

from datetime import date as date_
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from holdfast.accounts.models import User
from holdfast.accounts.schemas import UserRef
from holdfast.bookings.models import Booking, BookingStatus
from holdfast.bookings.schemas import BookingOut
from holdfast.catalog.models import Location
from holdfast.clock import as_utc
from holdfast.payments.models import PaymentStatus
from holdfast.scheduling.agenda import AgendaEntry
from holdfast.scheduling.models import ConflictReason, Series, SeriesConflict, SeriesState
from holdfast.schemas import Input, InstantIn, TimeZoneName, UtcInstant
from pydantic import BaseModel, Field

Id = Annotated[str, Field(min_length=1, max_length=64)]
OUTSIDE_HOURS = Field(
    default=False,
    description="Place the session outside the practitioner's working hours (never over "
    "another booking).",
)


class AdminBookingIn(Input):
    user_id: Id
    service_id: Id
    provider_id: Id
    start: InstantIn = Field(description="Any five-minute mark, e.g. 2027-03-01T09:05:00Z.")
    outside_hours: bool = OUTSIDE_HOURS
    pay_later: bool = Field(
        default=False,
        description="A prepaid service: book it confirmed now with its payment due, instead of "
        "holding it until paid online (the answer then carries the Checkout link to send).",
    )


class RescheduleIn(Input):
    start: InstantIn
    provider_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="By default the booking's own."
    )
    outside_hours: bool = Field(
        default=False,
        description="The practice only: place the booking outside the working hours.",
    )


class SeriesIn(Input):
    user_id: Id
    service_id: Id
    provider_id: Id
    rrule: str = Field(
        min_length=1,
        max_length=500,
        description="An RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=TU or "
        "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6 (by the day or coarser; no BYHOUR/BYMINUTE).",
    )
    start_local: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:00)?$",
        description="The first session's wall-clock date and time in `timezone`, "
        "e.g. 2027-03-02T09:00; every occurrence is at this local time.",
    )
    timezone: TimeZoneName
    count: int | None = Field(default=None, ge=1, le=1000)
    until: InstantIn | None = Field(default=None, description="No occurrence after this instant.")
    on_conflict: Literal["skip", "reject"] = Field(
        default="skip",
        description="skip: book every occurrence that is free and report the others; reject: "
        "book nothing if any occurrence conflicts (409 with the conflicts).",
    )


class SeriesCancelIn(Input):
    scope: Literal["one", "following", "all"]
    start: InstantIn | None = Field(
        default=None,
        description="one / following: the occurrence (its rule's instant, or where it is now).",
    )


class ConflictOut(BaseModel):
    start: UtcInstant
    start_local: str
    reason: ConflictReason
    found_at: UtcInstant | None = None
    booking_id: str | None = None

    @classmethod
    def of(cls, conflict: SeriesConflict, tz: ZoneInfo) -> ConflictOut:
        return cls(
            start=conflict.start,
            start_local=as_utc(conflict.start).astimezone(tz).isoformat(),
            reason=conflict.reason,
            found_at=conflict.found_at,
            booking_id=str(conflict.booking_id) if conflict.booking_id else None,
        )


class OccurrenceOut(BaseModel):
    booking_id: str | None = Field(description="null in a preview: not booked yet.")
    start: UtcInstant
    end: UtcInstant
    start_local: str
    status: BookingStatus | None

    @classmethod
    def of(cls, booking: Booking, tz: ZoneInfo) -> OccurrenceOut:
        return cls(
            booking_id=str(booking.id),
            start=booking.start,
            end=booking.end,
            start_local=as_utc(booking.start).astimezone(tz).isoformat(),
            status=booking.status,
        )

    @classmethod
    def planned(cls, start: datetime, end: datetime, tz: ZoneInfo) -> OccurrenceOut:
        return cls(
            booking_id=None,
            start=start,
            end=end,
            start_local=start.astimezone(tz).isoformat(),
            status=None,
        )


class PreviewOut(BaseModel):
    occurrences: list[OccurrenceOut] = Field(description="What would be booked now.")
    conflicts: list[ConflictOut]
    booked_until: UtcInstant = Field(
        description="Occurrences after this are booked later, as the rolling horizon moves."
    )


class SeriesOut(BaseModel):
    id: str
    user_id: str
    client: UserRef | None = Field(description="The client, by name and email.")
    service_id: str
    provider_id: str
    rrule: str
    start_local: str
    timezone: str
    count: int | None
    until: UtcInstant | None
    state: SeriesState
    booked_until: UtcInstant
    cut_from: UtcInstant | None
    occurrences: list[OccurrenceOut]
    conflicts: list[ConflictOut]
    created_at: UtcInstant

    @classmethod
    def of(cls, series: Series, bookings: list[Booking], client: User | None) -> SeriesOut:
        tz = ZoneInfo(series.timezone)
        return cls(
            id=str(series.id),
            user_id=str(series.user_id),
            client=UserRef.of(client) if client else None,
            service_id=str(series.service_id),
            provider_id=str(series.provider_id),
            rrule=series.rrule,
            start_local=series.start_local,
            timezone=series.timezone,
            count=series.rule_count,
            until=series.until,
            state=series.state,
            booked_until=series.materialised_until,
            cut_from=series.cut_from,
            occurrences=[OccurrenceOut.of(b, tz) for b in bookings],
            conflicts=[ConflictOut.of(c, tz) for c in series.conflicts],
            created_at=series.created_at,
        )


class ProviderRef(BaseModel):
    id: str
    name: str


class ServiceRef(BaseModel):
    id: str
    name: str
    location: Location


class PaymentStateOut(BaseModel):
    """A booking's payment as the console shows it beside the booking."""

    id: str
    status: PaymentStatus
    amount_cents: int
    currency: str
    refunded_cents: int


class AgendaItemOut(BookingOut):
    """A booking in the practice's lists: with its client, practitioner, service and payment
    named (never by id alone)."""

    provider: ProviderRef | None = Field(
        default=None, description="The practitioner (null only if their record is gone)."
    )
    service: ServiceRef | None = Field(
        default=None, description="The service (null only if its record is gone)."
    )
    payment: PaymentStateOut | None = Field(  # type: ignore[assignment]
        default=None, description="Its payment, if the service is paid for."
    )

    @classmethod
    def entry(cls, item: AgendaEntry) -> AgendaItemOut:
        fields = BookingOut.of(item.booking, item.client).model_dump(exclude={"payment"})
        provider, service, payment = item.provider, item.service, item.payment
        return cls.model_validate(
            {
                **fields,
                "provider": ProviderRef(id=str(provider.id), name=provider.name)
                if provider
                else None,
                "service": ServiceRef(
                    id=str(service.id), name=service.name, location=service.location
                )
                if service
                else None,
                "payment": PaymentStateOut(
                    id=str(payment.id),
                    **payment.model_dump(
                        include={"status", "amount_cents", "currency", "refunded_cents"}
                    ),
                )
                if payment
                else None,
            }
        )


class PractitionerDayOut(BaseModel):
    id: str
    name: str
    sessions: list[AgendaItemOut] = Field(description="Soonest first.")


class TodayOut(BaseModel):
    date: date_
    timezone: str = Field(description="The zone the day is a day in.")
    providers: list[PractitionerDayOut]
