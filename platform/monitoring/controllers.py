from __future__ import annotations

from datetime import date
from typing import Annotated

from holdfast.monitoring.stats import Stats, stats
from holdfast.web.auth import AdminUser, Ctx
from litestar import Controller, get
from litestar.params import QueryParameter

FROM = QueryParameter(name="from", description="The first UTC day (default: 29 days before to).")
TO = QueryParameter(name="to", description="The last UTC day, included (default: today).")


class StatsController(Controller):
    path = "/api/admin/stats"
    tags = ["monitoring"]

    @get("/")
    async def stats(
        self,
        ctx: Ctx,
        admin: AdminUser,
        start: Annotated[date | None, FROM] = None,
        end: Annotated[date | None, TO] = None,
    ) -> Stats:
        """Figures over whole UTC days: the waitlist's recovery of freed slots (offers, fill
        rate, revenue recovered, cancellation-to-offer latency, time to fill)."""
        return await stats(start, end, ctx.now())
