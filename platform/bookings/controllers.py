from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from holdfast.accounts.service import users_by_id
from holdfast.bookings import service
from holdfast.bookings.schemas import BookingIn, BookingOut, CancelIn, HistoryEntryOut
from holdfast.errors import NotFound
from holdfast.notifications.handlers import booking_calendar
from holdfast.payments import service as payments
from holdfast.payments.schemas import CheckoutLinkOut
from holdfast.web.auth import Ctx, CurrentUser
from holdfast.web.idempotency import RequestInProgress, once
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter


class BookingController(Controller):
    path = "/api/bookings"
    tags = ["bookings"]

    @post(
        "/",
        status_code=201,
        opt=answers(
            NotFound,
            service.SlotTaken,
            service.PaymentsOff,
            payments.CheckoutUnavailable,
            RequestInProgress,
        ),
    )
    async def book(
        self,
        data: JSONBody[BookingIn],
        ctx: Ctx,
        user: CurrentUser,
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        key = request.headers.get("idempotency-key")
        request_key = f"{user.id}:{key}" if key is not None else None

        async def work() -> tuple[int, Any]:
            booking = await service.book_slot(
                ctx,
                user_id=user.id,  # type: ignore[arg-type]
                service_id=data.service_id,
                provider_id=data.provider_id,
                start=data.start,
                actor=str(user.id),
                request_key=request_key,
                display_tz=user.timezone,
            )
            out = BookingOut.of(booking)
            if booking.status == "pending_payment":
                payment = await payments.start_checkout(ctx, booking, user)
                out.payment = CheckoutLinkOut.of(payment)
            return 201, out.model_dump(mode="json")

        return await once(ctx, request, f"bookings:{user.id}", key, work)

    @get("/", response_headers=PAGE_HEADERS)
    async def list_bookings(
        self,
        ctx: Ctx,
        user: CurrentUser,
        page: Paging,
        request: Request[Any, Any, Any],
        when: Annotated[
            Literal["upcoming", "past"] | None,
            QueryParameter(
                description="Only bookings not over yet (soonest first), or only past ones "
                "(most recent first); by default both, upcoming first."
            ),
        ] = None,
    ) -> Response[Sequence[BookingOut]]:
        found = await service.list_bookings(user, page, now=ctx.now(), when=when)
        # The practice sees whose each booking is, by name and email.
        clients = await users_by_id(b.user_id for b in found.items) if user.role == "admin" else {}
        items = [BookingOut.of(b, clients.get(b.user_id)) for b in found.items]
        return paged(request, items, found.next_cursor)

    @get("/{booking_id:str}")
    async def get_booking(self, booking_id: FromPath[str], user: CurrentUser) -> BookingOut:
        return BookingOut.of(await service.get_booking(booking_id, user))

    @post("/{booking_id:str}/cancel", status_code=200)
    async def cancel(
        self,
        booking_id: FromPath[str],
        ctx: Ctx,
        user: CurrentUser,
        data: JSONBody[CancelIn | None] = None,
    ) -> BookingOut:
        reason = data.reason if data else None
        return BookingOut.of(await service.cancel_booking(ctx, booking_id, user, reason))

    @get("/{booking_id:str}/calendar.ics", media_type="text/calendar", opt=answers(NotFound))
    async def calendar_file(
        self, booking_id: FromPath[str], ctx: Ctx, user: CurrentUser
    ) -> Response[str]:
        """The booking as an iCalendar file to add to a calendar (owner or admin)."""
        booking = await service.get_booking(booking_id, user)
        return Response(
            await booking_calendar(ctx, str(booking.id)),
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="holdfast-{booking.id}.ics"'},
        )

    @get("/{booking_id:str}/history")
    async def history(self, booking_id: FromPath[str], user: CurrentUser) -> list[HistoryEntryOut]:
        return [HistoryEntryOut.of(e) for e in await service.booking_history(booking_id, user)]
