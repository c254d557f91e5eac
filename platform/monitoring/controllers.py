from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from holdfast.configuration import ConfigurationOut, configuration
from holdfast.monitoring.funnel import BeaconIn, record
from holdfast.monitoring.stats import Stats, stats
from holdfast.web.auth import AdminUser, Ctx
from litestar import Controller, Request, get, post
from litestar.params import JSONBody, QueryParameter

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
        request: Request[Any, Any, Any],
        start: Annotated[date | None, FROM] = None,
        end: Annotated[date | None, TO] = None,
    ) -> Stats:
        """Figures over whole UTC days: booking attempts, success rate and latency; failures by
        cause; SLA compliance; the job queue; deliveries; payments; the waitlist's recovery of
        freed slots; and a time series for charts (minutes for one day, up to days for a year).
        """
        return await stats(ctx, getattr(request.app.state, "traffic", None), start, end)


class FunnelController(Controller):
    path = "/api/funnel"
    tags = ["monitoring"]

    @post("/", status_code=204)
    async def beacon(
        self, data: JSONBody[BeaconIn], ctx: Ctx, request: Request[Any, Any, Any]
    ) -> None:
        """The booking page's beacon: one step of the funnel (a page view, a service chosen, a
        time selected). Anyone may send it; nothing identifies the visitor; rate limited."""
        traffic = getattr(request.app.state, "traffic", None)
        if traffic is not None:
            record(traffic, ctx.now(), data)


class SettingsController(Controller):
    path = "/api/admin/settings"
    tags = ["monitoring"]

    @get("/")
    async def settings(self, ctx: Ctx, admin: AdminUser) -> ConfigurationOut:
        """The effective configuration, read-only (it comes from `HOLDFAST_*` environment
        variables, read at start): every setting with its variable, value and meaning, and
        each integration's state and non-secret parameters. Secrets are never returned, only
        whether they are set."""
        return configuration(ctx.settings, viewer_timezone=admin.timezone)
