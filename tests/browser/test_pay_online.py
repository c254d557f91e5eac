"""A client books a prepaid session, pays on (the fake) Stripe's hosted Checkout page and comes
back to the result page, which waits for Stripe's signed webhook before it says "booked": on a
desktop screen and on a phone, against real api, worker and promoter processes; then the
practice refunds part of a payment from the admin's payments section and sees the revenue."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest
from holdfast.embedded import free_port
from holdfast.settings import Settings
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import PHONE, Site, open_practice, watch
from tests.fakes.stripe import StripeApi
from tests.support import api_process, create_admin, holdfast_process, login, settings_env

pytestmark = pytest.mark.slow
WHSEC = "whsec_browser_secret"
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def shop(settings: Settings, stripe_api: StripeApi) -> Iterator[Site]:
    """The api, a worker and a promoter, taking payments through the fake Stripe, whose hosted
    page sends its signed webhook to the api as Stripe would."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stripe_api.webhook_url, stripe_api.webhook_secret = f"{url}/webhooks/stripe", WHSEC
    env = {
        **settings_env(settings),
        "HOLDFAST_PUBLIC_URL": url,
        "HOLDFAST_STRIPE_SECRET_KEY": "sk_test_browser",
        "HOLDFAST_STRIPE_WEBHOOK_SECRET": WHSEC,
        "HOLDFAST_STRIPE_API_URL": stripe_api.url,
    }
    create_admin(env)
    with (
        api_process(env, port),
        holdfast_process(env, "worker"),
        holdfast_process(env, "promoter"),
    ):
        yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))


def add_prepaid(site: Site, provider: str) -> None:
    created = httpx.post(
        f"{site.url}/api/admin/services",
        json={
            "name": "Paid session",
            "duration_minutes": 30,
            "slot_step_minutes": 30,
            "min_notice_minutes": 60,
            "price": {"amount_cents": 9000, "currency": "GBP"},
            "prepay": True,
            "provider_ids": [provider],
        },
        headers=site.admin,
    )
    assert created.status_code == 201, created.text


async def register_and_book(page: Page, site: Site, name: str, email: str) -> None:
    """From the booking page: register, choose the paid session, its first time, Book."""
    await page.goto(site.url + "/")
    await page.get_by_test_id("register-open").click()
    await page.get_by_test_id("register-name").fill(name)
    await page.get_by_test_id("register-email").fill(email)
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("whoami")).to_contain_text(name.split()[0])
    await page.get_by_test_id("service-card").filter(has_text="Paid session").click()
    await page.get_by_test_id("slot").first.click()
    await expect(page.get_by_test_id("confirm-price")).to_contain_text("90")
    await page.get_by_test_id("book-button").click()


async def test_pay_on_checkout_and_come_back_to_a_confirmed_booking(
    browser: Browser, shop: Site, stripe_api: StripeApi
) -> None:
    provider, _ = open_practice(shop)
    add_prepaid(shop, provider)
    checkout = re.compile(re.escape(stripe_api.url) + r"/pay/cs_test_\w+$")
    result = re.compile(re.escape(shop.url) + r"/payments/result\?booking=\w+")

    # Desktop. Stripe's webhook is held back: the return alone confirms nothing, the page
    # says the payment is received and waits; the webhook comes, and the page shows it booked.
    desk = await browser.new_page(viewport=DESKTOP, timezone_id="Europe/London")
    problems = watch(desk)
    await register_and_book(desk, shop, "Grace Hopper", "grace@example.com")
    await expect(desk).to_have_url(checkout)
    await expect(desk.get_by_text("Pay 90.00 GBP")).to_be_visible()
    hook, stripe_api.webhook_url = stripe_api.webhook_url, None
    await desk.get_by_test_id("checkout-pay").click()
    await expect(desk).to_have_url(result)
    shown = desk.get_by_test_id("payment-result")
    await expect(shown).to_have_attribute("data-state", "waiting")
    await expect(shown).to_contain_text("Payment received, waiting for confirmation")
    stripe_api.webhook_url = hook
    assert stripe_api.send(stripe_api.paid_on_page[-1]).status_code == 200
    await expect(shown).to_have_attribute("data-state", "confirmed", timeout=30_000)
    await expect(shown).to_contain_text("booked")
    await expect(desk.get_by_test_id("payment-result-paid")).to_contain_text("90")
    await desk.get_by_test_id("payment-result-home").click()
    row = desk.get_by_test_id("booking-row").first
    await expect(row.get_by_test_id("booking-status")).to_have_text("Confirmed")
    await expect(row.get_by_test_id("booking-payment")).to_contain_text("Paid")
    assert problems == []

    # Phone. Back from Checkout without paying: held, with a way to pay; then paid, the
    # webhook sent by the hosted page itself, the result confirmed, and the receipt.
    phone = await browser.new_page(viewport=PHONE, timezone_id="Europe/London")
    problems = watch(phone)
    await register_and_book(phone, shop, "Ada Byron", "ada@example.com")
    await expect(phone).to_have_url(checkout)
    await phone.get_by_test_id("checkout-cancel").click()
    await expect(phone).to_have_url(re.compile(result.pattern + r"&cancelled=1$"))
    shown = phone.get_by_test_id("payment-result")
    await expect(shown).to_have_attribute("data-state", "unpaid")
    await phone.get_by_test_id("payment-result-pay").click()
    await expect(phone).to_have_url(checkout)
    await phone.get_by_test_id("checkout-pay").click()
    await expect(shown).to_have_attribute("data-state", "confirmed", timeout=30_000)
    await phone.get_by_test_id("payment-result-receipt").click()
    await expect(phone.get_by_test_id("receipt-amount")).to_contain_text("90.00")
    await expect(phone.get_by_test_id("receipt-paid-by")).to_have_text("Card, online")
    await expect(phone.get_by_test_id("receipt-client")).to_contain_text("ada@example.com")
    await expect(phone.get_by_test_id("receipt-what")).to_contain_text("Paid session")
    await expect(phone.get_by_test_id("receipt-no-refunds")).to_be_visible()
    assert problems == []

    # The practice: both payments with their clients, a partial refund, and the revenue.
    admin = await browser.new_page(viewport=DESKTOP, timezone_id="Europe/London")
    problems = watch(admin)
    await admin.goto(shop.url + "/admin")
    await admin.get_by_test_id("login-email").fill("admin@example.com")
    await admin.get_by_test_id("login-password").fill("admin password")
    await admin.get_by_test_id("login-submit").click()
    await admin.get_by_role("link", name="Payments").click()
    rows = admin.get_by_test_id("payment-row")
    await expect(rows).to_have_count(2)
    ada = rows.filter(has_text="ada@example.com")
    await expect(ada.get_by_test_id("payment-client")).to_contain_text("Ada Byron")
    await ada.get_by_test_id("refund-amount").fill("30.00")
    await ada.get_by_test_id("refund-button").click()
    await expect(admin.get_by_test_id("payments-message")).to_contain_text("requested")
    for _ in range(60):  # the refund is a job: Refresh until Stripe has made it
        await admin.get_by_test_id("payments-refresh").click()
        if await ada.get_attribute("data-status") == "partially_refunded":
            break
        await asyncio.sleep(0.5)
    await expect(ada.get_by_test_id("payment-status")).to_have_text("Partly refunded")
    await expect(admin.get_by_test_id("revenue-net").first).to_contain_text("150.00")
    assert [r["amount"] for r in stripe_api.refunds] == [3000]
    assert problems == []
