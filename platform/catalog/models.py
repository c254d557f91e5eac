from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel


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


class WaitlistSettings(BaseModel):
    """How a service's freed slots are offered to its waitlist (see holdfast.waitlist)."""

    enabled: bool = True
    # sequential: one person at a time, in join order · batch: `batch_size` at once, the first
    # to claim wins.
    mode: Literal["sequential", "batch"] = "sequential"
    offer_minutes: int = 10  # how long an offer holds the slot for its person
    batch_size: int = 3  # offers open at once in batch mode (sequential: always one)

    @property
    def seats(self) -> int:
        return self.batch_size if self.mode == "batch" else 1


class Provider(Document):
    name: str
    timezone: str
    email: str | None = None  # cancellations reach the provider here, else the admins
    calendly_user_uri: str | None = None  # binds Calendly bookings hosted by this person
    # This provider's ids in other scheduling systems (a cancellation webhook's `calendar_id`).
    external_ids: list[str] = []
    rules: list[WeeklyHours] = []
    exceptions: list[DateOverride] = []
    # Archived: hidden from booking and availability; their bookings and history are kept.
    archived: bool = False
    created_at: datetime

    class Settings:
        name = "providers"
        indexes = [IndexModel([("external_ids", ASCENDING)], name="external_ids")]


# Where a session takes place: `video` gets a Zoom meeting per booking.
Location = Literal["in_person", "video", "phone"]


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
    # This service's ids in other scheduling systems (a cancellation webhook's `service_id`).
    external_ids: list[str] = []
    waitlist: WaitlistSettings = WaitlistSettings()
    # Archived: hidden from booking and availability; its bookings and history are kept.
    archived: bool = False
    location: Location = "in_person"
    created_at: datetime

    class Settings:
        name = "services"
        indexes = [IndexModel([("external_ids", ASCENDING)], name="external_ids")]
