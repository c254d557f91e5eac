from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from holdfast.availability.service import find_availability, slot_dict
from holdfast.errors import Invalid
from holdfast.web.auth import Ctx
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter


class AvailabilityController(Controller):
    path = "/api/availability"
    tags = ["availability"]

    @get("/")
    async def availability(
        self,
        ctx: Ctx,
        service_id: FromQuery[str],
        provider_id: FromQuery[str | None] = None,
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        days: FromQuery[int] = 14,
        tz: FromQuery[str] = "UTC",
    ) -> dict[str, Any]:
        try:
            from_date = date.fromisoformat(from_) if from_ else None
        except ValueError:
            raise Invalid(
                f"from '{from_}' is not a date in YYYY-MM-DD form.", code="invalid_date"
            ) from None
        zone, slots = await find_availability(
            ctx,
            service_id=service_id,
            provider_id=provider_id,
            from_date=from_date,
            days=days,
            tz_name=tz,
        )
        return {"timezone": str(zone), "slots": [slot_dict(s, zone) for s in slots]}
