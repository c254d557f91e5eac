"""The practice's scheduling: bookings on a client's behalf, series, and moving bookings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from holdfast.accounts.models import User
from holdfast.accounts.service import users_by_id
from holdfast.bookings.models import Booking, BookingStatus
from holdfast.bookings.moves import BookingNotMovable
from holdfast.bookings.schemas import BookingOut
from holdfast.bookings.service import PaymentsOff, SlotTaken
from holdfast.clock import zone
from holdfast.errors import Forbidden, NotFound
from holdfast.payments import service as payments
from holdfast.scheduling import bookings, records, series
from holdfast.scheduling.agenda import (
    BOUND_PATTERN,
    AgendaFilter,
    InvalidFilter,
    agenda_filter,
    agenda_page,
    day_sessions,
)
from holdfast.scheduling.calendar import MAX_DAYS, CalendarOut, provider_calendar
from holdfast.scheduling.export import csv_lines
from holdfast.scheduling.models import Series
from holdfast.scheduling.records import ClientRecordOut
from holdfast.scheduling.schemas import (
    AdminBookingIn,
    AgendaItemOut,
    ConflictOut,
    OccurrenceOut,
    PractitionerDayOut,
    PreviewOut,
    RescheduleIn,
    SeriesCancelIn,
    SeriesIn,
    SeriesOut,
    TodayOut,
)
from holdfast.schemas import TIMEZONE_PATTERN
from holdfast.web.auth import AdminUser, Ctx, CurrentUser
from holdfast.web.idempotency import RequestInProgress, once
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

# The filters of the practice's booking list and its CSV export.
_ID = {"minLength": 1, "maxLength": 64}
ProviderFilter = Annotated[
    str | None, QueryParameter(schema_extra=_ID, description="One practitioner's bookings.")
]
ServiceFilter = Annotated[
    str | None, QueryParameter(schema_extra=_ID, description="One service's bookings.")
]
ClientFilter = Annotated[
    str | None, QueryParameter(schema_extra=_ID, description="One client's bookings.")
]
StatusFilter = Annotated[
    list[BookingStatus] | None,
    QueryParameter(description="Any of these statuses (repeat the parameter)."),
]
SourceFilter = Annotated[
    list[str] | None,
    QueryParameter(
        description="Any of these sources (repeat): web, admin, series, waitlist, calendly, "
        "webhook, booking."
    ),
]
_BOUND = (
    "A date (YYYY-MM-DD: that whole day in `tz`) or a date and time (ISO 8601; without an "
    "offset, in `tz`)."
)
_BOUND_SHAPE = {"pattern": BOUND_PATTERN}
FromFilter = Annotated[
    str | None,
    QueryParameter(
        name="from", schema_extra=_BOUND_SHAPE, description=f"Bookings starting from: {_BOUND}"
    ),
]
ToFilter = Annotated[
    str | None,
    QueryParameter(
        name="to",
        schema_extra=_BOUND_SHAPE,
        description=f"Bookings starting before (a date: until its end): {_BOUND}",
    ),
]
ZoneFilter = Annotated[
    str | None,
    QueryParameter(
        schema_extra={"pattern": TIMEZONE_PATTERN},
        description="The IANA zone dates are read and times written in; by default yours.",
    ),
]


async def provide_agenda_filter(
    admin: NamedDependency[User],
    provider_id: ProviderFilter = None,
    service_id: ServiceFilter = None,
    user_id: ClientFilter = None,
    status: StatusFilter = None,
    source: SourceFilter = None,
    start_from: FromFilter = None,
    start_to: ToFilter = None,
    tz: ZoneFilter = None,
) -> AgendaFilter:
    """The booking list's filters (the list and its CSV take the same), or a 422."""
    return agenda_filter(
        tz=zone(admin.timezone if tz is None else tz), provider_id=provider_id,
        service_id=service_id, user_id=user_id, statuses=status or (), sources=source or (),
        start_from=start_from, start_to=start_to,
    )  # fmt: skip


Agenda = NamedDependency[AgendaFilter]


class SchedulingAdminController(Controller):
    path = "/api/admin"
    tags = ["scheduling"]

    @post(
        "/bookings",
        status_code=201,
        opt=answers(
            NotFound, SlotTaken, PaymentsOff, payments.CheckoutUnavailable, RequestInProgress
        ),
    )
    async def book_for_client(
        self,
        data: JSONBody[AdminBookingIn],
        ctx: Ctx,
        admin: AdminUser,
        request: Request[Any, Any, Any],
    ) -> Response[BookingOut]:
        """A one-off booking on a client's behalf, at any five-minute mark inside the
        practitioner's hours (outside them with `outside_hours`), never over another booking.
        A prepaid service is held until paid: `payment.checkout_url` is the link to send.
        With an `Idempotency-Key`, a repeat of the same request gets the first answer."""
        key = request.headers.get("idempotency-key")

        async def work() -> tuple[int, Any]:
            request_key = f"admin:{admin.id}:{key}" if key is not None else None
            booked = await bookings.book_for_client(ctx, data, admin, request_key=request_key)
            out = BookingOut.of(booked, payment=await payments.checkout_for(ctx, booked))
            return 201, out.model_dump(mode="json")

        return await once(ctx, request, f"admin-bookings:{admin.id}", key, work)

    @post("/series/preview", status_code=200, opt=answers(NotFound))
    async def preview_series(
        self, data: JSONBody[SeriesIn], ctx: Ctx, admin: AdminUser
    ) -> PreviewOut:
        """What creating this series would book now, and each conflict; nothing is written."""
        found, hi = await series.prepare(ctx, data, admin)
        tz = zone(found.series.timezone)
        return PreviewOut(
            occurrences=[OccurrenceOut.planned(b.start, b.end, tz) for b in found.bookings],
            conflicts=[ConflictOut.of(c, tz) for c in found.conflicts],
            booked_until=hi,
        )

    @post(
        "/series",
        status_code=201,
        opt=answers(NotFound, series.SeriesConflicts, RequestInProgress),
    )
    async def create_series(
        self,
        data: JSONBody[SeriesIn],
        ctx: Ctx,
        admin: AdminUser,
        request: Request[Any, Any, Any],
    ) -> Response[SeriesOut]:
        """Books every free occurrence up to the horizon; `on_conflict: reject` books nothing
        if any occurrence conflicts. With an `Idempotency-Key`, a repeat of the same request
        gets the first answer (one series)."""
        key = request.headers.get("idempotency-key")

        async def work() -> tuple[int, Any]:
            request_key = f"{admin.id}:{key}" if key is not None else None
            made, booked = await series.create_series(ctx, data, admin, request_key=request_key)
            return 201, (await series_out(made, booked)).model_dump(mode="json")

        return await once(ctx, request, f"admin-series:{admin.id}", key, work)

    @get("/series", response_headers=PAGE_HEADERS, opt=answers(NotFound))
    async def list_series(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        user_id: Annotated[str | None, QueryParameter(description="One client's series.")] = None,
    ) -> Response[Sequence[SeriesOut]]:
        """Series newest first, each with its conflicts (the occurrences are at its own URL)."""
        found = await series.list_series(page, user_id=user_id)
        clients = await users_by_id(s.user_id for s in found.items)
        listed = [SeriesOut.of(s, [], clients.get(s.user_id)) for s in found.items]
        return paged(request, listed, found.next_cursor)

    @get("/series/{series_id:str}", opt=answers(NotFound))
    async def get_series(self, series_id: FromPath[str], admin: AdminUser) -> SeriesOut:
        return await series_out(*await series.get_series(series_id))

    @post("/series/{series_id:str}/cancel", status_code=200, opt=answers(NotFound))
    async def cancel_series(
        self, series_id: FromPath[str], data: JSONBody[SeriesCancelIn], ctx: Ctx, admin: AdminUser
    ) -> SeriesOut:
        """`one`: the occurrence at `start`; `following`: it and every later one; `all`: every
        occurrence still ahead. Past sessions and their history stay."""
        return await series_out(*await series.cancel_series(ctx, series_id, data, admin))

    @get("/calendar", opt=answers(NotFound))
    async def calendar(
        self,
        admin: AdminUser,
        provider_id: FromQuery[str],
        from_: Annotated[
            str,
            QueryParameter(
                name="from", schema_extra={"format": "date"}, description="A local date."
            ),
        ],
        days: Annotated[int, QueryParameter(schema_extra={"minimum": 1, "maximum": MAX_DAYS})] = 7,
    ) -> CalendarOut:
        """One practitioner's bookings over `days` days from `from`, in their timezone."""
        return await provider_calendar(provider_id, from_, days)

    @get(
        "/bookings",
        response_headers=PAGE_HEADERS,
        opt=answers(InvalidFilter),
        dependencies={"chosen": Provide(provide_agenda_filter)},
    )
    async def agenda(
        self, chosen: Agenda, page: Paging, request: Request[Any, Any, Any]
    ) -> Response[Sequence[AgendaItemOut]]:
        """Everyone's bookings, soonest first, filtered; each names its client, practitioner,
        service, payment and meeting. `status` and `source` may repeat (any of them)."""
        entries, next_cursor = await agenda_page(chosen, page)
        return paged(request, [AgendaItemOut.entry(e) for e in entries], next_cursor)

    @get(
        "/bookings.csv",
        media_type="text/csv",
        opt=answers(InvalidFilter),
        dependencies={"chosen": Provide(provide_agenda_filter)},
    )
    async def agenda_csv(self, chosen: Agenda) -> Stream:
        """The whole filtered set (as `GET /api/admin/bookings`, not paged) as CSV, soonest
        first: a header row, times in `tz` with their offset and a column naming the zone."""
        return Stream(
            csv_lines(chosen),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="holdfast-bookings.csv"'},
        )

    @get("/today", opt=answers(InvalidFilter))
    async def today(
        self,
        ctx: Ctx,
        admin: AdminUser,
        day: Annotated[
            date | None,
            QueryParameter(name="date", description="A local date; by default today in `tz`."),
        ] = None,
        tz: ZoneFilter = None,
    ) -> TodayOut:
        """The day's sessions (booked, held or awaiting payment) per practitioner, each with
        its client, service, payment state and join link: every bookable practitioner, by
        name, a free day included."""
        local = zone(admin.timezone if tz is None else tz)
        chosen = day or ctx.now().astimezone(local).date()
        practitioners = await day_sessions(chosen, local)
        return TodayOut(
            date=chosen,
            timezone=local.key,
            providers=[
                PractitionerDayOut(
                    id=str(d.provider.id),
                    name=d.provider.name,
                    sessions=[AgendaItemOut.entry(e) for e in d.sessions],
                )
                for d in practitioners
            ],
        )

    @get("/users/{user_id:str}", opt=answers(NotFound))
    async def client_record(
        self, user_id: FromPath[str], ctx: Ctx, admin: AdminUser
    ) -> ClientRecordOut:
        """One client's record: details, bookings (upcoming and recent), series."""
        return await records.client_record(ctx, user_id)


async def series_out(made: Series, booked: list[Booking]) -> SeriesOut:
    """A series with its client named."""
    clients = await users_by_id([made.user_id])
    return SeriesOut.of(made, booked, clients.get(made.user_id))


class RescheduleController(Controller):
    path = "/api/bookings"
    tags = ["bookings"]

    @post(
        "/{booking_id:str}/reschedule",
        status_code=200,
        opt=answers(
            NotFound, Forbidden, SlotTaken, BookingNotMovable, bookings.TooLateToReschedule
        ),
    )
    async def reschedule(
        self, booking_id: FromPath[str], data: JSONBody[RescheduleIn], ctx: Ctx, user: CurrentUser
    ) -> BookingOut:
        """Moves the booking (same id, history kept) in one transaction: the new time is taken
        and the old one given back together; on a collision it stays where it was (409)."""
        return BookingOut.of(await bookings.reschedule(ctx, booking_id, user, data))
