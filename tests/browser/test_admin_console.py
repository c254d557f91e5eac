"""The admin console in a real browser, desktop (1280x800) and phone (390x844), against one
`holdfast api` process for the module: the day view with a series session and a paid booking,
every section loading cleanly with no serious accessibility violations, and the bookings list
with 200 bookings painting fast on a phone, with its filters, pages and CSV.

The admin's account is in Europe/London and the browsers in New York: the console shows times
in the admin's zone, named, whatever the machine it runs on says."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from holdfast.web.console import SECTIONS
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch
from tests.browser.test_admin_scheduling import LONDON, at_ten, call, client
from tests.browser.test_docs_and_accessibility import AXE, serious_violations

pytestmark = pytest.mark.slow
DESKTOP = {"width": 1280, "height": 800}
BROWSER_ZONE = "America/New_York"
DASH = "\u2013"  # the en dash the console writes ranges with


@pytest.fixture(scope="module")
def site(shared_site: Site) -> Site:
    """The module's site, its admin living in London."""
    call(shared_site, "PATCH", "/api/me", shared_site.admin, {"timezone": "Europe/London"})
    return shared_site


async def signed_in(
    browser: Browser, site: Site, viewport: dict[str, int], path: str, problems: list[str]
) -> tuple[BrowserContext, Page]:
    """A new browser (its own cookies) where the admin signed in through the gate at `path`."""
    context = await browser.new_context(viewport=viewport, timezone_id=BROWSER_ZONE)
    page = await context.new_page()
    watch(page, problems)
    await page.goto(site.url + path)
    await page.get_by_test_id("login-email").fill("admin@example.com")
    await page.get_by_test_id("login-password").fill("admin password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("admin-dashboard")).to_be_visible()
    return context, page


async def test_the_day_view_shows_a_series_session_and_a_paid_booking(
    browser: Browser, site: Site
) -> None:
    provider, talk = open_practice(site, "Weekly talk", "Mary Somerville")
    paid = call(
        site,
        "POST",
        "/api/admin/services",
        site.admin,
        {
            "name": "Paid session",
            "duration_minutes": 30,
            "provider_ids": [provider],
            "price": {"amount_cents": 6000, "currency": "GBP"},
            "prepay": True,
        },
    )["id"]
    grace, _ = client(site, "Grace Hopper", "grace@example.com")
    alan, _ = client(site, "Alan Turing", "alan@example.com")
    first = at_ten(1)
    series = {
        "user_id": grace,
        "service_id": talk,
        "provider_id": provider,
        "rrule": "FREQ=WEEKLY",
        "start_local": first.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "Europe/London",
        "count": 3,
    }
    made = call(site, "POST", "/api/admin/series", site.admin, series)
    assert len(made["occurrences"]) == 3
    # Alan pays at the practice: booked with his payment due, marked paid in the console.
    noon = (first + timedelta(hours=2)).isoformat()
    body = {"user_id": alan, "service_id": paid, "provider_id": provider, "start": noon}
    booked = call(site, "POST", "/api/admin/bookings", site.admin, {**body, "pay_later": True})
    assert booked["status"] == "confirmed"

    problems: list[str] = []
    context, page = await signed_in(browser, site, DESKTOP, "/admin/payments", problems)
    await page.get_by_test_id("payments-status").select_option("due")  # to be paid here
    row = page.get_by_test_id("payment-row").filter(has_text="alan@example.com")
    await expect(row.get_by_test_id("payment-status")).to_have_text("Due (pay later)")
    await row.get_by_test_id("paid-method").select_option("cash")
    await row.get_by_test_id("mark-paid").click()
    await expect(page.get_by_test_id("payments-message")).to_contain_text("as paid")
    await expect(row).to_have_count(0)  # no longer due
    await page.get_by_test_id("payments-status").select_option("")
    await expect(row.get_by_test_id("payment-status")).to_have_text("Paid")
    await expect(row.get_by_test_id("payment-method")).to_have_text("At the practice: cash")
    await expect(row.get_by_test_id("refund-button")).to_have_count(0)  # given back in person

    await page.get_by_test_id("nav-today").click()
    await expect(page.get_by_test_id("nav-today")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("day-heading")).to_contain_text("(Europe/London)")
    await page.get_by_test_id("day-next").click()
    await expect(page).to_have_url(re.compile(rf"date={first.date().isoformat()}$"))
    await _see_the_day(page, provider)
    # The calendar: the practitioner's week, the same two sessions on that day.
    await page.get_by_test_id("nav-calendar").click()
    await page.get_by_test_id("calendar-provider").select_option(provider)
    day = page.locator(f'[data-testid="calendar-day"][data-date="{first.date().isoformat()}"]')
    await expect(day.get_by_test_id("calendar-booking")).to_have_count(2)
    await expect(day.get_by_test_id("calendar-booking").first).to_contain_text(
        "Grace Hopper <grace@example.com>"
    )
    # Alan's record: his session and his payment, marked paid.
    await page.goto(f"{site.url}/admin/clients?id={alan}")
    await expect(page.get_by_test_id("record-name")).to_have_text("Alan Turing")
    await expect(page.get_by_test_id("record-booking")).to_contain_text("Paid session")
    await expect(page.get_by_test_id("record-payment")).to_contain_text("£60.00 · Paid")
    await context.close()

    # On a phone: the same day from its URL, and the sections behind one compact menu.
    context, phone = await signed_in(
        browser, site, PHONE, f"/admin/today?date={first.date().isoformat()}", problems
    )
    await _see_the_day(phone, provider)
    menu, links = phone.get_by_test_id("menu-toggle"), phone.get_by_test_id("nav-calendar")
    await expect(menu).to_be_visible()
    await expect(links).to_be_hidden()
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(links).to_be_visible()
    await expect(phone.get_by_test_id("nav-today")).to_have_attribute("aria-current", "page")
    fits = await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the day view scrolls sideways on a phone"
    await context.close()
    assert problems == []


async def _see_the_day(page: Page, provider: str) -> None:
    day = page.locator(f'[data-testid="day-provider"][data-provider-id="{provider}"]')
    sessions = day.get_by_test_id("day-session")
    await expect(sessions).to_have_count(2)
    talk, paid = sessions.nth(0), sessions.nth(1)
    await expect(talk.get_by_test_id("day-session-time")).to_have_text(f"10:00{DASH}10:30")
    await expect(talk.get_by_test_id("day-session-client")).to_have_text(
        "Grace Hopper <grace@example.com>"
    )
    await expect(talk.get_by_test_id("day-session-series")).to_be_visible()
    await expect(paid.get_by_test_id("day-session-time")).to_have_text(f"12:00{DASH}12:30")
    await expect(paid.get_by_test_id("day-session-client")).to_have_text(
        "Alan Turing <alan@example.com>"
    )
    await expect(paid.get_by_test_id("day-session-payment")).to_have_text("£60.00 · Paid")


async def test_every_section_loads_cleanly_and_passes_axe(browser: Browser, site: Site) -> None:
    problems: list[str] = []
    report: dict[str, list[dict[str, Any]]] = {}
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page = await signed_in(browser, site, viewport, "/admin/today", problems)
        await context.add_init_script(path=str(AXE))
        for section, label in SECTIONS:
            await page.goto(f"{site.url}/admin/{section}")
            await expect(page.get_by_test_id("admin-dashboard")).to_be_visible()
            await expect(page.locator("#section-heading")).to_have_text(label)
            await page.wait_for_load_state("networkidle")
            report[f"{name} {section}"] = await serious_violations(page)
        await context.close()
    assert all(not found for found in report.values()), {k: v for k, v in report.items() if v}
    assert problems == []


LCP = """() => new Promise(resolve => {
    new PerformanceObserver(list => {
        const last = list.getEntries().at(-1);
        const element = last.element ? last.element.outerHTML.slice(0, 80) : '';
        resolve({ ms: last.startTime, element: element });
    }).observe({ type: 'largest-contentful-paint', buffered: true });
})"""


async def test_the_bookings_list_with_200_bookings_is_fast_on_a_phone(
    browser: Browser, site: Site
) -> None:
    provider, service = open_practice(site, "Long list", "Caroline Herschel")
    emmy, _ = client(site, "Emmy Noether", "emmy@example.com")
    first = datetime.combine(
        datetime.now(LONDON).date() + timedelta(days=20), datetime.min.time(), LONDON
    )
    async with httpx.AsyncClient(base_url=site.url, headers=site.admin, timeout=30) as api:
        for k in range(200):
            start = (first + timedelta(minutes=30 * k)).isoformat()
            body = {"user_id": emmy, "service_id": service, "provider_id": provider}
            made = await api.post("/api/admin/bookings", json={**body, "start": start})
            assert made.status_code == 201, made.text

    problems: list[str] = []
    mine = f"/admin/bookings?provider_id={provider}"
    context, page = await signed_in(browser, site, PHONE, mine, problems)
    rows, count = page.get_by_test_id("booking-row"), page.get_by_test_id("bookings-count")
    await expect(rows).to_have_count(50)
    # A fresh load of the list (the admin signed in), measured by the browser itself.
    await page.goto(site.url + mine)
    await expect(rows).to_have_count(50)
    lcp: dict[str, Any] = await page.evaluate(LCP)
    print(f"the bookings list's LCP on a phone: {lcp['ms']:.0f} ms, {lcp['element']}")
    assert lcp["ms"] < 1000, lcp

    await expect(count).to_have_text(f"Bookings 1{DASH}50, soonest first.")
    await expect(rows.first.get_by_test_id("booking-client")).to_have_text(
        "Emmy Noether <emmy@example.com>"
    )
    await expect(rows.first.get_by_test_id("booking-time")).to_contain_text("(Europe/London)")
    await page.get_by_test_id("bookings-next").click()
    await expect(count).to_have_text(f"Bookings 51{DASH}100, soonest first.")
    await page.get_by_test_id("bookings-prev").click()
    await expect(count).to_have_text(f"Bookings 1{DASH}50, soonest first.")
    await expect(page.get_by_test_id("bookings-prev")).to_be_hidden()

    # The CSV carries the same filters: all 200, not a page.
    href = await page.get_by_test_id("bookings-csv").get_attribute("href")
    assert href and f"provider_id={provider}" in href
    answer = await page.request.get(site.url + href)
    assert answer.status == 200
    table = list(csv.reader(io.StringIO(await answer.text())))
    assert len(table) == 201
    assert sum("emmy@example.com" in line for line in table) == 200

    # A filter from the form: none of these is cancelled.
    await page.get_by_label("Cancelled", exact=True).check()
    await page.get_by_test_id("filter-apply").click()
    await expect(page).to_have_url(re.compile(r"status=cancelled"))
    await expect(page.get_by_test_id("bookings-empty")).to_have_text("No bookings match.")
    await context.close()
    assert problems == []
