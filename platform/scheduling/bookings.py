"""One-off bookings on a client's behalf, and moving a booking to another time."""

from __future__ import annotations

from datetime import timedelta

from holdfast.accounts.models import User
from holdfast.accounts.service import get_user
from holdfast.bookings.models import Booking
from holdfast.bookings.moves import move_booking
from holdfast.bookings.service import book_slot, get_booking, utc_start
from holdfast.clock import as_utc
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Forbidden
from holdfast.payments.followups import payment_due
from holdfast.scheduling.rules import check_placement, offering
from holdfast.scheduling.schemas import AdminBookingIn, RescheduleIn


class TooLateToReschedule(DomainError):
    kind, code = ErrorKind.CONFLICT, "too_late_to_reschedule"


async def book_for_client(
    ctx: Context, data: AdminBookingIn, admin: User, *, request_key: str | None = None
) -> Booking:
    """Book through the guarded path with the admin as the actor: the client is confirmed as
    after any booking, or (a prepaid service) held until paid online, unless `pay_later`
    books it confirmed with its payment due. The practice's placement rule applies (see
    `scheduling.rules`)."""
    client = await get_user(data.user_id)
    place = await offering(ctx, data.service_id, data.provider_id)
    start = utc_start(data.start)
    check_placement(place, start, outside_hours=data.outside_hours)
    return await book_slot(
        ctx,
        user_id=client.id,  # type: ignore[arg-type]
        service_id=data.service_id,
        provider_id=data.provider_id,
        start=start,
        actor=str(admin.id),
        source="admin",
        request_key=request_key,
        display_tz=admin.timezone,
        offered_only=False,
        history={"on_behalf_of": str(client.id)},
        pay_later=data.pay_later,
        within=payment_due if data.pay_later else None,
    )


async def reschedule(ctx: Context, booking_id: str, viewer: User, data: RescheduleIn) -> Booking:
    """Move a booking (same id, history kept). Its owner may move it to any slot the booking
    page offers, until `HOLDFAST_RESCHEDULE_CUTOFF_HOURS` before it starts; the practice may
    move it anywhere its placement rule allows, at any time."""
    booking = await get_booking(booking_id, viewer)
    start = utc_start(data.start)
    admin = viewer.role == "admin"
    if admin:
        provider_id = data.provider_id or str(booking.provider_id)
        place = await offering(ctx, str(booking.service_id), provider_id)
        check_placement(place, start, outside_hours=data.outside_hours)
    else:
        if data.outside_hours:
            raise Forbidden(
                "Only the practice can place a session outside working hours.", code="admins_only"
            )
        cutoff = timedelta(hours=ctx.settings.reschedule_cutoff_hours)
        if as_utc(booking.start) - ctx.now() < cutoff and booking.status != "cancelled":
            raise TooLateToReschedule(
                f"Sessions can be moved online until {ctx.settings.reschedule_cutoff_hours} "
                "hours before they start; please contact the practice."
            )
    history = {"series_id": str(booking.series_id)} if booking.series_id else None
    return await move_booking(
        ctx,
        booking,
        start=start,
        actor=str(viewer.id),
        provider_id=data.provider_id,
        offered_only=not admin,
        display_tz=viewer.timezone,
        history=history,
    )
