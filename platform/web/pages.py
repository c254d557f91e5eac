"""Pages served from `/`: the booking page, the account page (the admin console: web/console.py)."""

from __future__ import annotations

from holdfast.web.auth import Ctx
from litestar import Controller, get
from litestar.response import Template


class PageController(Controller):
    path = ""
    include_in_schema = False

    @get("/")
    async def booking_page(self, ctx: Ctx) -> Template:
        return Template(
            template_name="book.html",
            context={"practice_address": ctx.settings.practice_address},
        )

    @get("/reset-password")
    async def reset_page(self) -> Template:
        return Template(template_name="reset.html")

    @get("/account")
    async def account_page(self) -> Template:
        return Template(template_name="account.html")
