"""Connecting a practitioner's Google Calendar from the admin page, in a real browser, through
the fake Google's consent redirect and back to Holdfast's callback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from holdfast.embedded import free_port
from holdfast.settings import Settings
from playwright.async_api import Browser, expect

from tests.browser.conftest import Site
from tests.fakes.google import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.support import api_process, create_admin, login, settings_env


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle().start()
    yield fake
    fake.stop()


@pytest.fixture
def google_site(settings: Settings, google: FakeGoogle) -> Iterator[Site]:
    """`holdfast api` with Google configured; its public URL is where Google sends people back."""
    port = free_port()
    env = settings_env(settings)
    env.update(
        {
            "HOLDFAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HOLDFAST_GOOGLE_CLIENT_ID": CLIENT_ID,
            "HOLDFAST_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "HOLDFAST_GOOGLE_API_URL": google.api_url,
            "HOLDFAST_GOOGLE_OAUTH_URL": google.url,
        }
    )
    create_admin(env)
    with api_process(env, port) as url:
        yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))


async def test_an_admin_connects_a_calendar_from_the_admin_page(
    browser: Browser, google_site: Site, google: FakeGoogle
) -> None:
    async with httpx.AsyncClient(base_url=google_site.url, headers=google_site.admin) as api:
        created = await api.post(
            "/api/admin/providers", json={"name": "Ada Lovelace", "timezone": "Europe/London"}
        )
    assert created.status_code == 201, created.text
    provider = created.json()["id"]

    page = await browser.new_page()
    await page.goto(f"{google_site.url}/admin/integrations")
    await page.get_by_test_id("login-email").fill("admin@example.com")
    await page.get_by_test_id("login-password").fill("admin password")
    await page.get_by_test_id("login-submit").click()
    row = page.locator(f'[data-testid="integration-row"][data-provider="{provider}"]')
    await expect(row.get_by_test_id("integration-state")).to_have_text("Off")

    await row.get_by_test_id("google-connect").click()
    # Google's consent page (the fake agrees at once) sends the browser back to our callback,
    # which lands on the console's integrations section again.
    await page.wait_for_url("**/admin/integrations?google=connected")
    await expect(page.get_by_test_id("integrations-notice")).to_contain_text("connected")
    await expect(row.get_by_test_id("integration-state")).to_have_text("Connected")
    assert google.consents and google.consents[-1]["access_type"] == "offline"

    async with httpx.AsyncClient(base_url=google_site.url, headers=google_site.admin) as api:
        rows = await api.get("/api/admin/integrations")
    mine = [r for r in rows.json() if r.get("provider_id") == provider]
    assert mine and mine[0]["state"] == "connected"
    await page.close()
