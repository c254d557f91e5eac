"""A client books from the booking page on a phone-sized screen, in a real browser."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch

pytestmark = pytest.mark.slow


async def test_register_pick_a_time_and_book_on_a_phone(browser: Browser, site: Site) -> None:
    open_practice(site)
    page = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    problems = watch(page)

    await page.goto(site.url + "/")
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-name").fill("Grace Hopper")
    await page.get_by_test_id("register-email").fill("grace@example.com")
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-timezone").select_option("Europe/London")
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


async def test_the_booking_page_keeps_focus_speaks_plainly_and_reaches_later_days(
    browser: Browser, site: Site
) -> None:
    open_practice(site)
    page = await browser.new_page(viewport=PHONE, timezone_id="Europe/London", locale="en-GB")
    problems = watch(page)
    await page.goto(site.url + "/")

    # An empty registration form: a sentence naming what is missing, on the field's focus.
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-submit").click()
    error = page.get_by_test_id("register-error")
    await expect(error).to_have_text("Please tell us your name.")
    await expect(page.get_by_test_id("register-name")).to_be_focused()
    await page.get_by_test_id("register-name").fill("Hal")
    await page.get_by_test_id("register-email").fill("hal@example.com")
    await page.get_by_test_id("register-submit").click()
    await expect(error).to_contain_text("password")

    # The panel's Close button does not cover its message.
    await page.get_by_test_id("auth-close").click()
    await page.get_by_test_id("services").get_by_role("button").first.click()
    await page.get_by_test_id("slot").first.click()
    await page.get_by_test_id("book-button").click()
    message = await page.get_by_test_id("auth-message").bounding_box()
    close = await page.get_by_test_id("auth-close").bounding_box()
    assert message and close
    assert (
        close["y"] + close["height"] <= message["y"]
        or close["x"] + close["width"] <= message["x"]
        or message["y"] + message["height"] <= close["y"]
    ), (message, close)
    await page.get_by_test_id("auth-close").click()

    # Choosing a service or a day with the keyboard keeps the focus where it was.
    card = page.get_by_test_id("service-card").first
    await card.focus()
    await page.keyboard.press("Enter")
    await expect(card).to_be_focused()
    day = page.locator('[data-testid="day-button"]:not([disabled])').nth(1)
    date = await day.get_attribute("data-date")
    await day.focus()
    await page.keyboard.press("Enter")
    chosen = page.locator(f'[data-testid="day-button"][data-date="{date}"]')
    await expect(chosen).to_have_attribute("aria-pressed", "true")
    await expect(chosen).to_be_focused()

    # Beyond the first fortnight: "Later days" shows the next one, and back again.
    first_days = await page.get_by_test_id("day-button").evaluate_all(
        "bs => bs.map(b => b.dataset.date)"
    )
    await page.get_by_test_id("days-later").click()
    await expect(page.get_by_test_id("days-later")).to_be_focused()
    later = page.get_by_test_id("day-button").first
    await expect(later).not_to_have_attribute("data-date", first_days[0])
    assert (await later.get_attribute("data-date") or "") > max(first_days)
    await page.locator('[data-testid="slot"]').first.click()
    await expect(page.get_by_test_id("confirm-panel")).to_be_visible()
    await page.get_by_test_id("days-earlier").click()
    await expect(page.get_by_test_id("day-button").first).to_have_attribute(
        "data-date", first_days[0]
    )

    # The confirmation says when it ends, what it costs, where, and offers the calendar file.
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-name").fill("Hal")
    await page.get_by_test_id("register-email").fill("hal@example.com")
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text("Hal")
    await page.get_by_test_id("slot").first.click()
    start = await page.get_by_test_id("slot").first.get_attribute("data-start")
    await page.get_by_test_id("book-button").click()
    await expect(page.get_by_test_id("confirmation")).to_be_visible()
    assert start
    end = datetime.fromisoformat(start) + timedelta(minutes=30)
    ends = end.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M")
    await expect(page.get_by_test_id("confirmation-end")).to_have_text(ends)
    await expect(page.get_by_test_id("confirmation-price")).to_have_text("Free")
    await expect(page.get_by_test_id("confirmation-where")).to_have_text(
        "In person with Ada Lovelace"
    )
    link = page.get_by_test_id("confirmation-calendar")
    href = await link.get_attribute("href")
    assert href and href.endswith("/calendar.ics")
    async with page.expect_download() as download:
        await link.click()
    saved = await (await download.value).path()
    text = await asyncio.to_thread(Path(saved).read_text)
    assert "BEGIN:VEVENT" in text and "LOCATION:In person with Ada Lovelace" in text
    assert problems == []
