"""The funnel counts one visit that books and one that leaves, and the admin's monitoring page
shows it with the figures, objectives and charts, in a real browser against `holdfast api`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from playwright.async_api import Browser, Response, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch

pytestmark = pytest.mark.slow


async def test_a_visit_that_books_and_one_that_leaves_are_counted_and_shown(
    browser: Browser, site: Site
) -> None:
    open_practice(site)
    problems: list[str] = []

    # One visitor looks, chooses a service and a time, and leaves.
    leaving = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    watch(leaving, problems)
    await leaving.goto(site.url + "/")
    await leaving.get_by_test_id("services").get_by_role("button").first.click()
    async with leaving.expect_response(_beacon("slot")):
        await leaving.get_by_test_id("slot").first.click()
    await expect(leaving.get_by_test_id("book-button")).to_be_enabled()
    await leaving.close()

    # Another registers and books.
    page = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    watch(page, problems)
    await page.goto(site.url + "/")
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-name").fill("Grace Hopper")
    await page.get_by_test_id("register-email").fill("grace@example.com")
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-timezone").select_option("Europe/London")
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text("Grace")
    await page.get_by_test_id("services").get_by_role("button").first.click()
    await page.get_by_test_id("slot").first.click()
    await page.get_by_test_id("book-button").click()
    await expect(page.get_by_test_id("confirmation")).to_be_visible()

    # What the server recorded (the stats read flushes the API process's counts first).
    expected = {"views": 2, "services": 2, "slots": 2, "attempts": 1, "booked": 1, "paid": 0}
    assert await _funnel_total(site, expected) == expected

    # The admin sees it on the monitoring page, in the console's menu.
    admin = await browser.new_page(viewport={"width": 1280, "height": 900})
    watch(admin, problems)
    await admin.goto(site.url + "/admin")
    await admin.get_by_test_id("login-email").fill("admin@example.com")
    await admin.get_by_test_id("login-password").fill("admin password")
    await admin.get_by_test_id("login-submit").click()
    await admin.get_by_test_id("nav-monitoring").click()
    await expect(admin.get_by_test_id("monitoring-board")).to_be_visible()
    cells = admin.get_by_test_id("funnel-total").locator("td")
    await expect(cells).to_have_text(["2", "2", "2", "1", "1", "0"])
    await expect(admin.get_by_test_id("funnel-service")).to_contain_text("Open all week")
    await expect(admin.get_by_test_id("sla-booking_p95_under_300ms")).to_contain_text("300 ms")
    await expect(admin.get_by_test_id("chart-bookings").locator("canvas")).to_have_count(1)
    tiles = admin.get_by_test_id("monitoring-tiles")
    await expect(tiles).to_contain_text("Booking attempts")
    # A phone-sized screen shows the same page without sideways scrolling of the page itself.
    await admin.set_viewport_size(PHONE)
    await admin.get_by_test_id("monitoring-span").select_option("7")
    await expect(admin.get_by_test_id("funnel-total").locator("td").first).to_have_text("2")
    overflow = await admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert overflow, "the monitoring page scrolls sideways on a phone"
    assert problems == []


def _beacon(step: str) -> Callable[[Response], bool]:
    def sent(response: Response) -> bool:
        data = response.request.post_data or ""
        return response.url.endswith("/api/funnel") and f'"{step}"' in data

    return sent


async def _funnel_total(site: Site, expected: dict[str, int]) -> dict[str, int]:
    """The funnel's totals once they match (a beacon may still be on its way), or the last."""
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as api:
        for _ in range(100):
            stats = (await api.get("/api/admin/stats", headers=site.admin)).json()
            total: dict[str, int] = stats["funnel"]["total"]
            if total == expected:
                break
            await asyncio.sleep(0.1)
    return total
