"""A job that died for real (the practice's mail server refused every try) is found on the
console's Jobs page, with what it was about and why it died, and retried from there: the
confirmation then reaches the client. A real browser against `holdfast api`; the jobs run in
this process as a worker would, on a clock moved on by hand through the retries' backoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from holdfast.context import close_context, open_context
from holdfast.settings import Settings
from playwright.async_api import Browser, expect

from tests.browser.conftest import PHONE, Site, open_practice
from tests.browser.test_admin_scheduling import admin_page, at_ten, call, client
from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import run_all_due, with_senders

pytestmark = pytest.mark.slow


async def test_a_dead_job_is_retried_from_the_console(
    browser: Browser, site: Site, settings: Settings, smtp: SmtpSink, sms: SmsServer
) -> None:
    provider, service = open_practice(site)
    _, grace = client(site, "Grace Hopper", "grace@example.com")
    body = {"service_id": service, "provider_id": provider, "start": at_ten(2).isoformat()}
    call(site, "POST", "/api/bookings", grace, body)

    clock = Clock(datetime.now(UTC))
    worker = await open_context(with_senders(settings, smtp.url, sms.url), clock)
    try:
        smtp.refuse = 1_000
        outcomes: list[str] = []
        for _ in range(24):  # each try fails; the backoff grows to an hour at most
            outcomes += await run_all_due(worker, settings)
            if "dead" in outcomes:
                break
            clock.advance(hours=1)
        assert "dead" in outcomes

        problems: list[str] = []
        page = await admin_page(browser, site, problems, "jobs")
        await page.set_viewport_size(PHONE)
        dead = page.get_by_test_id("job-row").filter(has_text="notify.confirmation")
        await expect(dead).to_have_count(1)
        await expect(dead).to_have_attribute("data-state", "dead")
        await expect(dead.get_by_test_id("job-error")).not_to_be_empty()
        await expect(dead.get_by_test_id("job-client")).to_have_text(
            "Grace Hopper <grace@example.com>"
        )
        smtp.refuse = 0  # the cause is fixed
        await dead.get_by_test_id("job-retry").click()
        await expect(page.get_by_test_id("jobs-message")).to_contain_text("Retrying")
        await expect(dead).to_have_count(0)

        assert "succeeded" in await run_all_due(worker, settings)
        assert [m["To"] for m in smtp.messages] == ["grace@example.com"]
        await page.get_by_test_id("jobs-state").select_option("succeeded")
        done = page.get_by_test_id("job-row").filter(has_text="notify.confirmation")
        await expect(done).to_have_attribute("data-state", "succeeded")

        # The Messages page: the confirmation, sent after its failed tries, its text and invite.
        await page.goto(f"{site.url}/admin/messages")
        sent = page.get_by_test_id("message-row").filter(has_text="grace@example.com")
        await expect(sent.get_by_test_id("message-status")).to_contain_text("Sent")
        await sent.get_by_test_id("message-open").click()
        await expect(page.get_by_test_id("message-text")).to_contain_text("Open all week")
        href = await page.get_by_test_id("message-ics").get_attribute("href")
        invite = await page.request.get(f"{site.url}{href}")
        assert invite.status == 200
        assert "BEGIN:VEVENT" in await invite.text()
        assert problems == []
    finally:
        await close_context(worker)
