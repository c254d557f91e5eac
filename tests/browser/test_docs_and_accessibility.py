"""The API docs page with every request beyond Holdfast blocked, and automated accessibility
checks (axe-core, vendored from npm into tests/browser/vendor/, injected by Playwright) of the
client's pages: no serious or critical violations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from holdfast.embedded import free_port
from holdfast.settings import Settings
from playwright.async_api import Browser, Page, Route, expect

from tests.browser.conftest import PHONE, Site, open_practice
from tests.support import api_process, create_admin, holdfast_process, login, settings_env

pytestmark = pytest.mark.slow
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


async def test_the_api_docs_show_the_operations_with_no_network(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport=DESKTOP)
    refused: list[str] = []

    async def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await page.route("**/*", only_loopback)
    await page.goto(site.url + "/schema/swagger")
    reset = page.locator('.opblock-summary-path[data-path="/api/auth/password-reset"]')
    await expect(reset).to_be_visible(timeout=30_000)
    assert await page.locator(".opblock").count() > 20
    assert refused == []


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ['violations'] });
            return result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }));
        }"""
    )
    return found


@pytest.fixture
def practice_site(settings: Settings) -> Iterator[Site]:
    """The api, a worker and a promoter: a cancellation's opening reaches the waitlist."""
    port = free_port()
    env = {**settings_env(settings), "HOLDFAST_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    create_admin(env)
    with (
        api_process(env, port) as url,
        holdfast_process(env, "worker"),
        holdfast_process(env, "promoter"),
    ):
        yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))


async def offer_link(api: httpx.AsyncClient, admin: dict[str, str]) -> str:
    """The claim link of the first offer in the outbox (no SMTP or SMS here)."""
    for _ in range(600):
        messages = (await api.get("/api/admin/messages", headers=admin)).json()
        for message in messages:
            found = re.search(r"(http\S+/offers/[A-Za-z0-9_.-]+)", message["body"])
            if found:
                return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError("no offer in the outbox within 60 s")


async def test_the_clients_pages_have_no_serious_accessibility_violations(
    browser: Browser, practice_site: Site
) -> None:
    site = practice_site
    provider, service = open_practice(site)
    api = httpx.AsyncClient(base_url=site.url, timeout=10)
    for email in ("ava@example.com", "bea@example.com"):
        body = {"email": email, "password": "a long password", "name": email[:3].title()}
        assert (await api.post("/api/auth/register", json=body)).status_code == 201
    ava = login(site.url, "ava@example.com", "a long password")
    bea = login(site.url, "bea@example.com", "a long password")
    found = await api.get("/api/availability", params={"service_id": service, "tz": "UTC"})
    starts = [slot["start"] for slot in found.json()["slots"][3:5]]
    booked = []
    for start, who in zip(starts, (ava, bea), strict=True):
        booking = {"service_id": service, "provider_id": provider, "start": start}
        made = await api.post("/api/bookings", json=booking, headers=who)
        assert made.status_code == 201, made.text
        booked.append(made.json()["id"])
    # Ava waits for the service; Bea's cancellation opens a time, offered to Ava.
    joined = await api.post("/api/waitlist", json={"service_id": service}, headers=ava)
    assert joined.status_code == 201, joined.text
    cancelled = await api.post(f"/api/bookings/{booked[1]}/cancel", json={}, headers=bea)
    assert cancelled.status_code == 200
    offer = await offer_link(api, site.admin)
    await api.aclose()

    report: dict[str, list[dict[str, Any]]] = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(viewport=viewport, locale="en-GB")
        await context.add_init_script(path=str(AXE))
        page = await context.new_page()

        async def check(label: str, page: Page = page, name: str = name) -> None:
            report[f"{name} {label}"] = await serious_violations(page)

        await page.goto(offer)
        await expect(page.get_by_test_id("offer-claim")).to_be_visible()
        await check("offer page")
        await page.goto(site.url + "/")
        await page.get_by_test_id("service-card").first.click()
        await page.get_by_test_id("slot").first.click()
        await check("booking page, a time chosen")
        await page.get_by_test_id("register-open").click()
        await page.get_by_test_id("register-submit").click()
        await check("registration form with its message")
        await page.get_by_test_id("switch-to-login").click()
        await page.get_by_test_id("login-email").fill("ava@example.com")
        await page.get_by_test_id("login-password").fill("a long password")
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("booking-row")).to_have_count(1)
        await check("booking page, logged in")
        await page.goto(site.url + "/account")
        await expect(page.get_by_test_id("booking-row")).to_have_count(1)
        await expect(page.get_by_test_id("waitlist-row")).to_have_count(1)
        await check("account page")
        await page.goto(site.url + "/reset-password")
        await check("reset page, asking")
        await page.goto(site.url + "/reset-password#token=not-a-real-one")
        await check("reset page, choosing")
        await page.goto(site.url + "/offers/not-a-real-offer")
        await check("offer page, gone")
        await context.close()
    assert all(not found for found in report.values()), {k: v for k, v in report.items() if v}
