"""A client books from the booking page on a phone-sized screen, in a real browser."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

from tests.browser.conftest import PHONE, Site, open_practice

pytestmark = pytest.mark.slow


async def test_register_pick_a_time_and_book_on_a_phone(browser: Browser, site: Site) -> None:
    open_practice(site)
    page = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    problems: list[str] = []
    page.on("console", lambda m: _collect(m, problems))
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(site.url + "/")
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-name").fill("Grace Hopper")
    await page.get_by_test_id("register-email").fill("grace@example.com")
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-timezone").fill("Europe/London")
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text("Grace")

    await page.get_by_test_id("services").get_by_role("button").first.click()
    await expect(page.get_by_test_id("timezone-note")).to_contain_text("Europe/London")
    first_slot = page.get_by_test_id("slot").first
    await first_slot.click()
    await page.get_by_test_id("book-button").click()
    await expect(page.get_by_test_id("confirmation")).to_be_visible()
    await expect(page.get_by_test_id("my-bookings")).to_contain_text("Open all week")
    assert problems == []


def _collect(message: ConsoleMessage, into: list[str]) -> None:
    # Script errors and refused resources (a Content-Security-Policy violation lands here); an
    # HTTP error answer the page handles itself (401 before logging in) is not a problem.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        into.append(message.text)
