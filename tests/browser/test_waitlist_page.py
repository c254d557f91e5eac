"""A client joins the waitlist from the booking page and claims the opening from the link in
the SMS, on a phone-sized screen, in a real browser, against real api, worker and promoter
processes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest
from holdfast.embedded import free_port
from holdfast.settings import Settings
from playwright.async_api import Browser, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch
from tests.fakes import SmsServer
from tests.support import (
    api_process,
    create_admin,
    holdfast_process,
    login,
    settings_env,
)

pytestmark = pytest.mark.slow
PHONE_NUMBER = "+447700900777"


@pytest.fixture
def platform(settings: Settings, sms: SmsServer) -> Iterator[Site]:
    """The api, a worker and a promoter, sending SMS to the fake gateway."""
    port = free_port()
    env = {
        **settings_env(settings),
        "HOLDFAST_SMS_URL": sms.url,
        "HOLDFAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    create_admin(env)
    with (
        api_process(env, port) as url,
        holdfast_process(env, "worker"),
        holdfast_process(env, "promoter"),
    ):
        yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))


async def test_join_from_the_booking_page_and_claim_from_the_sms_on_a_phone(
    browser: Browser, platform: Site, sms: SmsServer
) -> None:
    site = platform
    api = httpx.AsyncClient(base_url=site.url, timeout=10)
    provider, service = open_practice(site)
    grace = {"email": "grace@example.com", "password": "a long enough password"}
    registered = await api.post(
        "/api/auth/register",
        json={**grace, "name": "Grace Hopper", "timezone": "Europe/London",
              "phone": PHONE_NUMBER},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    # Someone else holds a time a few hours ahead (well past the service's notice).
    found = await api.get("/api/availability", params={"service_id": service, "tz": "UTC"})
    slots = found.json()["slots"]
    start = slots[6]["start"]
    owner = await api.post(
        "/api/auth/register",
        json={"email": "owner@example.com", "password": "another long password",
              "name": "Owner", "timezone": "UTC"},
    )  # fmt: skip
    assert owner.status_code == 201
    owner_auth = login(site.url, "owner@example.com", "another long password")
    booked = await api.post(
        "/api/bookings",
        json={"service_id": service, "provider_id": provider, "start": start},
        headers=owner_auth,
    )
    assert booked.status_code == 201, booked.text

    page = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    problems = watch(page)
    await page.goto(site.url + "/")
    await page.get_by_test_id("login-open").click()
    await page.get_by_test_id("login-email").fill(grace["email"])
    await page.get_by_test_id("login-password").fill(grace["password"])
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text("Grace")
    await page.get_by_test_id("services").get_by_role("button").first.click()
    await page.get_by_test_id("waitlist-join").click()
    await expect(page.get_by_test_id("waitlist-status")).to_contain_text("on the waitlist")
    await expect(page.get_by_test_id("waitlist-row")).to_have_count(1)

    cancelled = await api.post(
        f"/api/bookings/{booked.json()['id']}/cancel", json={}, headers=owner_auth
    )
    assert cancelled.status_code == 200

    def offered() -> bool:
        return any(m["To"] == PHONE_NUMBER and "/offers/" in m["Body"] for m in sms.received)

    for _ in range(600):
        if offered():
            break
        await asyncio.sleep(0.1)
    assert offered(), "no offer SMS within 60 s"
    [text] = [m["Body"] for m in sms.received if m["To"] == PHONE_NUMBER]
    link = re.search(r"(http\S+/offers/[A-Za-z0-9_.-]+)", text)
    assert link, text

    # The link opens on the phone with no session at all.
    phone = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    watch(phone, problems)
    await phone.goto(link.group(1))
    await expect(phone.get_by_test_id("offer-what")).to_contain_text("Open all week")
    await phone.get_by_test_id("offer-claim").click()
    await expect(phone.get_by_test_id("offer-message")).to_contain_text("It's yours")

    grace_auth = login(site.url, grace["email"], grace["password"])
    mine = (await api.get("/api/bookings", headers=grace_auth)).json()
    assert [(b["start"], b["source"]) for b in mine] == [(start, "waitlist")]
    await page.reload()
    await expect(page.get_by_test_id("my-waitlist-empty")).to_be_visible()
    assert problems == []
    await api.aclose()
