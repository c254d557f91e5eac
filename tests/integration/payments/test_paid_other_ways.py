"""A prepaid service booked other than from the booking page: by the practice for a client
(held with a Checkout link to send, or "pay later"), and claimed from a waitlist offer (held
until paid: the offer's hold becomes the booking's payment hold)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from holdfast.jobs.models import Job

from tests.fakes import SmtpSink
from tests.integration.payments.conftest import START, Shop
from tests.support import register


async def for_client(shop: Shop, **extra: Any) -> tuple[httpx.Response, dict[str, str]]:
    """The admin books the prepaid service at START for a new client; the answer, the client."""
    me = await register(shop.client)
    user_id = (await shop.client.get("/api/me", headers=me)).json()["id"]
    body = {
        "user_id": user_id,
        "service_id": shop.prepaid,
        "provider_id": shop.practice.london,
        "start": START,
        **extra,
    }
    made = await shop.client.post("/api/admin/bookings", json=body, headers=shop.practice.admin)
    return made, me


async def test_an_admin_booking_of_a_prepaid_service_is_held_with_the_link_to_send(
    shop: Shop,
) -> None:
    made, me = await for_client(shop)
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["status"] == "pending_payment"
    assert booking["payment"]["checkout_url"].startswith(f"{shop.stripe.url}/pay/cs_test_")
    assert await Job.find({"kind": "notify.confirmation"}).count() == 0
    paid = shop.stripe.pay(shop.session(booking)["id"])
    assert (await shop.deliver(paid)).status_code == 200
    await shop.settle()
    assert await shop.status_of(booking, me) == "confirmed"
    assert (await shop.my_payment(me))["status"] == "paid"


async def test_pay_later_books_it_confirmed_with_its_payment_due(shop: Shop) -> None:
    made, me = await for_client(shop, pay_later=True)
    assert made.status_code == 201, made.text
    booking = made.json()
    assert (booking["status"], booking["payment"]) == ("confirmed", None)
    assert shop.stripe.sessions == {}  # no Checkout: it is paid at the practice
    due = await shop.my_payment(me)
    assert (due["status"], due["amount_cents"], due["currency"]) == ("due", 9000, "GBP")
    await shop.settle()
    assert await Job.find({"kind": "notify.confirmation"}).count() == 1
    # Cancelled: nothing was paid, nothing is owed, nothing is refunded.
    await shop.cancel(booking, me)
    await shop.settle()
    assert (await shop.my_payment(me))["status"] == "expired"
    assert shop.stripe.refunds == []


async def test_a_waitlist_claim_of_a_prepaid_service_holds_the_time_until_paid(
    shop: Shop, smtp: SmtpSink
) -> None:
    waiting = await register(shop.client, email="waiting@example.com")
    joined = await shop.client.post(
        "/api/waitlist", json={"service_id": shop.prepaid}, headers=waiting
    )
    assert joined.status_code == 201, joined.text
    booking, owner = await shop.paid_booking()
    await shop.cancel(booking, owner)
    await shop.settle()
    [offer] = [m for m in smtp.messages if m["To"] == "waiting@example.com"]
    found = re.search(r"/offers/([A-Za-z0-9_.-]+)", str(offer.get_body().get_content()))  # type: ignore[union-attr]
    assert found, offer

    claimed = await shop.client.post(f"/offers/{found.group(1)}/claim")
    assert claimed.status_code == 201, claimed.text
    held = claimed.json()
    assert held["status"] == "pending_payment"
    assert held["payment"]["checkout_url"].startswith(f"{shop.stripe.url}/pay/cs_test_")
    # The time stays held while they pay: nobody else gets it.
    taken = await shop.book(await register(shop.client))
    assert taken.status_code == 409, taken.text

    paid = shop.stripe.pay(shop.session(held)["id"])
    assert (await shop.deliver(paid)).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, waiting) == "confirmed"
