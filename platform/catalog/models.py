from __future__ import annotations

from datetime import date, datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel


class WeeklyHours(BaseModel):
    weekday: int  # 0 = Monday … 6 = Sunday
    start: str  # HH:MM, provider-local wall-clock time
    end: str


class DateOverride(BaseModel):
    date: date
    start: str | None = None  # no times: closed that local date
    end: str | None = None


class Price(BaseModel):
    amount_cents: int
    currency: str


class Provider(Document):
    name: str
    timezone: str
    email: str | None = None  # cancellations reach the provider here, else the admins
    calendly_user_uri: str | None = None  # binds Calendly bookings hosted by this person
    rules: list[WeeklyHours] = []
    exceptions: list[DateOverride] = []
    created_at: datetime

    class Settings:
        name = "providers"


class Service(Document):
    name: str
    description: str = ""
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 0
    reminder_minutes_before: int = 24 * 60
    calendly_url: str | None = None  # this service's own Calendly scheduling page
    slot_step_minutes: int
    price: Price | None = None
    # Paid online when booked (see holdfast.payments): held as `pending_payment` until then.
    prepay: bool = False
    # A paid booking cancelled at least this long before its start is refunded in full.
    refund_cutoff_hours: int = 24
    provider_ids: list[PydanticObjectId]
    created_at: datetime

    class Settings:
        name = "services"
