"""Pages served from `/`: the booking page, the account page and the admin dashboard."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template


class PageController(Controller):
    path = ""
    include_in_schema = False

    @get("/")
    async def booking_page(self) -> Template:
        return Template(template_name="book.html")

    @get("/admin")
    async def admin_page(self) -> Template:
        return Template(template_name="admin.html")
