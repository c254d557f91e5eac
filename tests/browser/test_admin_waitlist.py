"""The practice sees who waits and what was offered to whom, by name, in a real browser."""

from __future__ import annotations

import pytest
from holdfast.context import close_context, open_context
from holdfast.settings import Settings
from playwright.async_api import Browser, expect

from tests.browser.conftest import Site, open_practice
from tests.browser.test_admin_scheduling import admin_page, at_ten, call, client
from tests.support import run_all_due

pytestmark = pytest.mark.slow


async def test_the_admin_sees_entries_and_offers_by_name(
    browser: Browser, site: Site, settings: Settings
) -> None:
    provider, service = open_practice(site)
    _, grace = client(site, "Grace Hopper", "grace@example.com")
    _, alan = client(site, "Alan Turing", "alan@example.com")
    _, owner = client(site, "Ada Byron", "byron@example.com")
    for who in (grace, alan):
        call(site, "POST", "/api/waitlist", who, {"service_id": service})
    body = {"service_id": service, "provider_id": provider, "start": at_ten(2).isoformat()}
    booking = call(site, "POST", "/api/bookings", owner, body)
    call(site, "POST", f"/api/bookings/{booking['id']}/cancel", owner, {})
    # What a worker does with the freed time: Grace, first in line, is offered it.
    worker = await open_context(settings)
    try:
        await run_all_due(worker, settings)
    finally:
        await close_context(worker)

    problems: list[str] = []
    page = await admin_page(browser, site, problems, "waitlist")
    offers, entries = (
        page.get_by_test_id("waitlist-offers"),
        page.get_by_test_id("waitlist-entries"),
    )
    await expect(offers.locator("tr")).to_have_count(2)  # the heading and Grace's offer
    await expect(offers).to_contain_text("Grace Hopper <grace@example.com>")
    await expect(offers).to_contain_text("Open all week with Ada Lovelace")
    await expect(offers).to_contain_text("sent")
    await expect(entries).to_contain_text("Grace Hopper")
    await expect(entries).to_contain_text("Alan Turing")
    await expect(entries.locator("tr").nth(1)).to_contain_text("Grace Hopper")  # first in line
    await page.get_by_test_id("offer-state").select_option("accepted")
    await expect(offers).to_contain_text("Nothing here yet.")
    assert problems == []
