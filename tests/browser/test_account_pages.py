"""The client's own pages in a real browser against real processes: resetting a forgotten
password from the emailed link, and the account page (timezone, phone, bookings)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from holdfast.embedded import free_port
from holdfast.settings import Settings
from playwright.async_api import Browser, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch
from tests.fakes import SmtpSink
from tests.support import api_process, create_admin, holdfast_process, login, settings_env

pytestmark = pytest.mark.slow
OLD, NEW = "the old long password", "a fresh long password"


@pytest.fixture
def mailing_site(settings: Settings, smtp: SmtpSink) -> Iterator[Site]:
    """The api and a worker, mailing through the SMTP fake, links naming the api's address."""
    port = free_port()
    env = {
        **settings_env(settings),
        "HOLDFAST_SMTP_URL": smtp.url,
        "HOLDFAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    create_admin(env)
    with api_process(env, port) as url, holdfast_process(env, "worker"):
        yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))


async def test_a_forgotten_password_is_reset_from_the_emailed_link(
    browser: Browser, mailing_site: Site, smtp: SmtpSink
) -> None:
    site = mailing_site
    api = httpx.AsyncClient(base_url=site.url, timeout=10)
    body = {"email": "vera@example.com", "password": OLD, "name": "Vera", "timezone": "UTC"}
    assert (await api.post("/api/auth/register", json=body)).status_code == 201
    elsewhere = login(site.url, "vera@example.com", OLD)  # a session on another device

    page = await browser.new_page(viewport=PHONE)
    problems = watch(page)
    await page.goto(site.url + "/")
    await page.get_by_test_id("login-open").click()
    await page.get_by_test_id("forgot-password").click()
    await page.get_by_test_id("reset-email").fill("vera@example.com")
    await page.get_by_test_id("reset-request-submit").click()
    await expect(page.get_by_test_id("reset-message")).to_contain_text("If an account uses")

    for _ in range(600):  # the worker mails it
        if smtp.messages:
            break
        await asyncio.sleep(0.1)
    [mail] = smtp.messages
    link = re.search(r"(http\S+/reset-password#token=\S+)", mail.get_content())
    assert link, mail.get_content()
    # Opened from the email: a new tab.
    page = await browser.new_page(viewport=PHONE)
    watch(page, problems)
    await page.goto(link.group(1))
    await expect(page.get_by_test_id("reset-form")).to_be_visible()
    await expect(page).not_to_have_url(re.compile("token"))  # off the address bar and history
    await page.get_by_test_id("reset-password").fill(NEW)
    await page.get_by_test_id("reset-password-again").fill(NEW + "x")
    await page.get_by_test_id("reset-submit").click()
    await expect(page.get_by_test_id("reset-error")).to_contain_text("not the same")
    await page.get_by_test_id("reset-password-again").fill(NEW)
    await page.get_by_test_id("reset-submit").click()
    await expect(page.get_by_test_id("reset-message")).to_contain_text("has been changed")

    assert (await api.get("/api/me", headers=elsewhere)).status_code == 401
    await page.get_by_test_id("reset-done").get_by_role("link").click()
    await page.wait_for_url(f"{site.url}/")
    await page.wait_for_load_state("load")  # the page's script is listening
    await page.get_by_test_id("login-open").click()
    await page.get_by_test_id("login-email").fill("vera@example.com")
    await page.get_by_test_id("login-password").fill(NEW)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text("Vera")

    # The same link a second time: refused, saying why.
    await page.goto(link.group(1))
    await page.get_by_test_id("reset-password").fill("yet another long one")
    await page.get_by_test_id("reset-password-again").fill("yet another long one")
    await page.get_by_test_id("reset-submit").click()
    await expect(page.get_by_test_id("reset-error")).to_contain_text("already been used")
    assert problems == []
    await api.aclose()


def local_time(start: str, zone: str) -> str:
    return datetime.fromisoformat(start).astimezone(ZoneInfo(zone)).strftime("%H:%M")


async def test_the_account_page_keeps_details_and_moves_times_with_the_timezone(
    browser: Browser, site: Site
) -> None:
    provider, service = open_practice(site)
    api = httpx.AsyncClient(base_url=site.url, timeout=10)
    body = {"email": "wyn@example.com", "password": OLD, "name": "Wyn", "timezone": "Europe/London"}
    assert (await api.post("/api/auth/register", json=body)).status_code == 201
    wyn = login(site.url, "wyn@example.com", OLD)
    found = await api.get("/api/availability", params={"service_id": service, "tz": "UTC"})
    start = found.json()["slots"][4]["start"]
    booked = await api.post(
        "/api/bookings",
        json={"service_id": service, "provider_id": provider, "start": start},
        headers=wyn,
    )
    assert booked.status_code == 201, booked.text

    page = await browser.new_page(viewport=PHONE, locale="en-GB", timezone_id="Asia/Tokyo")
    problems = watch(page)
    await page.goto(site.url + "/account")
    await expect(page.get_by_test_id("account-login")).to_be_visible()
    await page.goto(site.url + "/")
    await page.get_by_test_id("login-open").click()
    await page.get_by_test_id("login-email").fill("wyn@example.com")
    await page.get_by_test_id("login-password").fill(OLD)
    await page.get_by_test_id("login-submit").click()
    # The booking page shows times in the account's zone, not the device's (Tokyo).
    await expect(page.get_by_test_id("timezone-name")).to_contain_text("Europe/London")
    await page.get_by_test_id("account-link").click()

    row_time = page.get_by_test_id("booking-time")
    await expect(row_time).to_contain_text(local_time(start, "Europe/London"))
    await expect(row_time).to_contain_text("Europe/London")
    await expect(page.get_by_test_id("add-to-calendar")).to_have_attribute(
        "href", f"/api/bookings/{booked.json()['id']}/calendar.ics"
    )

    await page.get_by_test_id("profile-phone").fill("07700 900123")
    await page.get_by_test_id("profile-save").click()
    await expect(page.get_by_test_id("profile-error")).to_contain_text("country code")
    await page.get_by_test_id("profile-phone").fill("+44 7700 900123")
    await page.get_by_test_id("profile-timezone").select_option("America/New_York")
    await page.get_by_test_id("profile-reminders").uncheck()
    await page.get_by_test_id("profile-save").click()
    await expect(page.get_by_test_id("profile-saved")).to_have_text("Saved.")
    await expect(row_time).to_contain_text(local_time(start, "America/New_York"))
    await expect(row_time).to_contain_text("America/New_York")

    me = (await api.get("/api/me", headers=wyn)).json()
    assert (me["timezone"], me["phone"], me["reminder_emails"]) == (
        "America/New_York",
        "+447700900123",
        False,
    )

    # The booking page follows, and "change" there moves its times too.
    await page.goto(site.url + "/")
    await expect(page.get_by_test_id("timezone-name")).to_contain_text("America/New_York")
    await page.get_by_test_id("services").get_by_role("button").first.click()
    first = page.get_by_test_id("slot").first
    await expect(first).to_be_visible()
    first_start = await first.get_attribute("data-start")
    assert first_start
    await expect(first).to_contain_text(local_time(first_start, "America/New_York"))
    await page.get_by_test_id("timezone-change").click()
    await page.get_by_test_id("timezone-select").select_option("Asia/Kolkata")
    await page.get_by_test_id("timezone-apply").click()
    await expect(page.get_by_test_id("timezone-name")).to_contain_text("Asia/Kolkata")
    kolkata_day = datetime.fromisoformat(first_start).astimezone(ZoneInfo("Asia/Kolkata"))
    await page.locator(f'[data-testid="day-button"][data-date="{kolkata_day:%Y-%m-%d}"]').click()
    moved = page.locator(f'[data-testid="slot"][data-start="{first_start}"]')
    await expect(moved).to_contain_text(local_time(first_start, "Asia/Kolkata"))
    assert (await api.get("/api/me", headers=wyn)).json()["timezone"] == "Asia/Kolkata"
    assert problems == []
    await api.aclose()
