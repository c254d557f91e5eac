"""The practice schedules for a client, and a client moves a booking, in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Site, open_practice, watch
from tests.support import login

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")


def client(site: Site, name: str, email: str) -> tuple[str, dict[str, str]]:
    body = {"email": email, "password": "correct horse", "name": name, "timezone": "Europe/London"}
    made = httpx.post(f"{site.url}/api/auth/register", json=body)
    assert made.status_code == 201, made.text
    return made.json()["id"], login(site.url, email, body["password"])


def call(site: Site, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    """One API request (blocking, as the other setup here), its answer as JSON."""
    answer = httpx.request(method, f"{site.url}{path}", json=body, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json()


def at_ten(days_ahead: int) -> datetime:
    """10:00 London time, `days_ahead` days from today."""
    day = datetime.now(LONDON).date() + timedelta(days=days_ahead)
    return datetime.combine(day, datetime.min.time().replace(hour=10), LONDON)


async def admin_page(
    browser: Browser, site: Site, problems: list[str], section: str = "today"
) -> Page:
    """An admin signed in through the console's gate, on one of its sections."""
    page = await browser.new_page(timezone_id="Europe/London")
    watch(page, problems)
    await page.goto(f"{site.url}/admin/{section}")
    await page.get_by_test_id("login-email").fill("admin@example.com")
    await page.get_by_test_id("login-password").fill("admin password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("admin-dashboard")).to_be_visible()
    return page


async def open_client(page: Page, q: str, name: str) -> None:
    """Find a client on the Clients page and open their record."""
    await page.get_by_test_id("client-q").fill(q)
    await page.get_by_test_id("client-search-submit").click()
    await (
        page.get_by_test_id("client-row")
        .filter(has_text=name)
        .get_by_test_id("client-open")
        .click()
    )
    await expect(page.get_by_test_id("record-name")).to_have_text(name)


async def test_the_practice_books_for_a_client(browser: Browser, site: Site) -> None:
    open_practice(site)
    user_id, headers = client(site, "Grace Hopper", "grace@example.com")
    problems: list[str] = []
    page = await admin_page(browser, site, problems, "clients")
    await open_client(page, "gra", "Grace Hopper")
    # From the record to the Bookings page's form, with Grace chosen.
    await page.get_by_test_id("record-book").click()
    await expect(page).to_have_url(re.compile(r"/admin/bookings\?client="))
    await expect(page.get_by_test_id("admin-book-client")).to_contain_text("grace@example.com")
    slot = page.get_by_test_id("admin-book-slot").nth(4)
    start = await slot.get_attribute("data-start")
    await slot.click()
    await expect(page.get_by_test_id("admin-book-done")).to_contain_text("Booked")
    # The list above shows it at once, by the client's name and email.
    await expect(page.get_by_test_id("booking-client")).to_have_text(
        "Grace Hopper <grace@example.com>"
    )
    mine = call(site, "GET", "/api/bookings", headers)
    assert [(b["user_id"], b["start"], b["source"]) for b in mine] == [(user_id, start, "admin")]
    assert problems == []


async def test_the_practice_creates_a_series_from_its_preview(browser: Browser, site: Site) -> None:
    provider, service = open_practice(site)
    _, headers = client(site, "Alan Turing", "alan@example.com")
    _, other = client(site, "Ada Byron", "byron@example.com")
    first = at_ten(2)
    taken = {
        "service_id": service,
        "provider_id": provider,
        "start": (first + timedelta(weeks=1)).isoformat(),
    }
    call(site, "POST", "/api/bookings", other, taken)
    problems: list[str] = []
    page = await admin_page(browser, site, problems, "clients")
    await open_client(page, "alan", "Alan Turing")
    await page.get_by_test_id("record-new-series").click()
    await expect(page.get_by_test_id("series-client")).to_contain_text("alan@example.com")
    await page.get_by_test_id("series-start").fill(first.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_test_id("series-count").fill("4")
    await expect(page.get_by_test_id("series-timezone")).to_have_value("Europe/London")
    await page.get_by_test_id("series-preview").click()
    await expect(page.get_by_test_id("preview-occurrence")).to_have_count(3)
    await expect(page.get_by_test_id("preview-conflict")).to_have_count(1)
    await expect(page.get_by_test_id("preview-conflict")).to_contain_text("already booked")
    await page.get_by_test_id("series-create").click()
    await expect(page.get_by_test_id("series-note")).to_have_text("Series created.")
    await expect(page.get_by_test_id("series-occurrence")).to_have_count(3)
    await expect(page.get_by_test_id("series-row")).to_have_count(1)
    await expect(page.get_by_test_id("series-row-client")).to_have_text(
        "Alan Turing <alan@example.com>"
    )
    mine: list[dict[str, Any]] = call(site, "GET", "/api/bookings", headers)
    starts = sorted(datetime.fromisoformat(b["start"]) for b in mine)
    assert starts == [(first + timedelta(weeks=w)).astimezone(UTC) for w in (0, 2, 3)]
    assert {b["series_id"] for b in mine} != {None}
    assert problems == []


async def test_a_client_reschedules_from_their_booking_page(browser: Browser, site: Site) -> None:
    provider, service = open_practice(site)
    _, headers = client(site, "Grace Hopper", "grace@example.com")
    body = {"service_id": service, "provider_id": provider, "start": at_ten(3).isoformat()}
    made = call(site, "POST", "/api/bookings", headers, body)
    page = await browser.new_page(timezone_id="Europe/London")
    problems = watch(page)
    await page.goto(site.url + "/")
    await page.get_by_test_id("login-open").click()
    await page.get_by_test_id("login-email").fill("grace@example.com")
    await page.get_by_test_id("login-password").fill("correct horse")
    await page.get_by_test_id("login-submit").click()
    row = page.get_by_test_id("booking-row").first
    await expect(row).to_be_visible()
    await row.get_by_test_id("reschedule-button").click()
    target = row.get_by_test_id("reschedule-slot").nth(30)
    start = await target.get_attribute("data-start")
    await target.click()
    await expect(
        page.get_by_test_id("booking-row").first.get_by_test_id("reschedule-button")
    ).to_be_visible()
    moved = call(site, "GET", f"/api/bookings/{made['id']}", headers)
    assert moved["start"] == start != made["start"]
    history = call(site, "GET", f"/api/bookings/{made['id']}/history", headers)
    assert [h["action"] for h in history] == ["created", "rescheduled"]
    assert problems == []
