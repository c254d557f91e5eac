"""The admin console's pages: one URL per section, each a template extending
`admin_layout.html`, which holds the one section menu and the one sign-in gate.

The pages are shells: a section's script (`static/admin_<section>.js`) loads its data from the
admin API once `static/admin.js` has checked the session, so a page never renders data for a
visitor who is not an admin, and the API stays the one place that authorises.
"""

from __future__ import annotations

from holdfast.errors import NotFound
from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

# (URL slug, menu label): the menu's order is a practice's day, from today's sessions to the
# operator's pages.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("today", "Today"),
    ("calendar", "Calendar"),
    ("bookings", "Bookings"),
    ("clients", "Clients"),
    ("series", "Series"),
    ("waitlist", "Waitlist and offers"),
    ("payments", "Payments"),
    ("catalog", "Catalog"),
    ("integrations", "Integrations"),
    ("jobs", "Jobs"),
    ("messages", "Messages"),
    ("calendly", "Calendly"),
    ("settings", "Settings"),
    ("monitoring", "Monitoring"),
)
TITLES = dict(SECTIONS)


class ConsoleController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/")
    async def console(self) -> Redirect:
        return Redirect(path="/admin/today", status_code=302)

    @get("/{section:str}")
    async def section(self, section: FromPath[str]) -> Template:
        if section not in TITLES:
            raise NotFound(f"There is no console section called {section!r}.")
        return Template(
            template_name=f"admin_{section}.html",
            context={"sections": SECTIONS, "current": section, "title": TITLES[section]},
        )
