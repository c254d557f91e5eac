"""The demo practice `holdfast dev` seeds on first start."""

from __future__ import annotations

from holdfast.accounts.service import create_or_reset_admin
from holdfast.catalog.models import Provider
from holdfast.catalog.schemas import AvailabilityIn, PriceIn, ServiceIn, WeeklyHoursIn
from holdfast.catalog.service import create_provider, create_service, set_weekly_availability
from holdfast.context import Context

WEEKDAYS = range(5)


async def seed_demo(ctx: Context, *, admin_email: str, admin_password: str) -> bool:
    """Create the demo practice once; False if the database already holds a practice."""
    await create_or_reset_admin(ctx, email=admin_email, password=admin_password)
    if await Provider.find_all().count():
        return False
    london = await create_provider(ctx, name="Dr Ada Byrne", timezone="Europe/London")
    new_york = await create_provider(ctx, name="Sam Rivera", timezone="America/New_York")
    office_hours = [WeeklyHoursIn(weekday=d, start="09:00", end="17:00") for d in WEEKDAYS]
    await set_weekly_availability(ctx, str(london.id), AvailabilityIn(rules=office_hours))
    late_week = [WeeklyHoursIn(weekday=d, start="10:00", end="18:00") for d in (1, 2, 3, 4, 5)]
    await set_weekly_availability(ctx, str(new_york.id), AvailabilityIn(rules=late_week))
    both = [str(london.id), str(new_york.id)]
    await create_service(
        ctx,
        ServiceIn(
            name="Initial consultation",
            description="A free 20-minute call to see whether we are a good fit.",
            duration_minutes=20,
            buffer_after_minutes=10,
            slot_step_minutes=30,
            min_notice_minutes=120,
            provider_ids=both,
        ),
    )
    await create_service(
        ctx,
        ServiceIn(
            name="Therapy session",
            description="A 50-minute one-to-one session, in person or by video.",
            duration_minutes=50,
            buffer_after_minutes=10,
            slot_step_minutes=60,
            min_notice_minutes=12 * 60,
            price=PriceIn(amount_cents=9000, currency="GBP"),
            provider_ids=both,
        ),
    )
    await create_service(
        ctx,
        ServiceIn(
            name="Couples session",
            description="An 80-minute session for two, with time to settle in.",
            duration_minutes=80,
            buffer_before_minutes=10,
            buffer_after_minutes=15,
            slot_step_minutes=30,
            min_notice_minutes=24 * 60,
            price=PriceIn(amount_cents=14000, currency="GBP"),
            provider_ids=[str(london.id)],
        ),
    )
    return True
