from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from holdfast.availability.schemas import SlotPageOut
from holdfast.availability.service import DEFAULT_LIMIT, MAX_DAYS, MAX_LIMIT, find_availability
from holdfast.errors import Invalid, NotFound
from holdfast.schemas import TIMEZONE_PATTERN
from holdfast.web.auth import Ctx
from holdfast.web.openapi import answers
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

# The documented bounds are checked by the service, which names what is wrong in its own words.
Days = Annotated[int, QueryParameter(schema_extra={"minimum": 1, "maximum": MAX_DAYS})]
Limit = Annotated[int, QueryParameter(schema_extra={"minimum": 1, "maximum": MAX_LIMIT})]
Zone = Annotated[str, QueryParameter(schema_extra={"pattern": TIMEZONE_PATTERN})]


class AvailabilityController(Controller):
    path = "/api/availability"
    tags = ["availability"]

    @get("/", opt=answers(NotFound))
    async def availability(
        self,
        ctx: Ctx,
        service_id: FromQuery[str],
        provider_id: FromQuery[str | None] = None,
        from_: Annotated[
            str | None, QueryParameter(name="from", schema_extra={"format": "date"})
        ] = None,
        days: Days = 14,
        tz: Zone = "UTC",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Annotated[
            datetime | None,
            QueryParameter(description="The `next` of the page before: where this page starts."),
        ] = None,
    ) -> SlotPageOut:
        """Bookable slots, earliest first, a page at a time (see `limit` and `next`)."""
        try:
            from_date = date.fromisoformat(from_) if from_ else None
        except ValueError:
            raise Invalid(
                f"from '{from_}' is not a date in YYYY-MM-DD form.", code="invalid_date"
            ) from None
        page = await find_availability(
            ctx,
            service_id=service_id,
            provider_id=provider_id,
            from_date=from_date,
            days=days,
            tz_name=tz,
            limit=limit,
            cursor=cursor,
        )
        return SlotPageOut.of(page)
