"""A session booked "pay later" is paid at the practice: the admin marks its payment paid (how
it was paid), revenue counts it from then, its receipt shows it, and its money is never sent
to Stripe to refund."""

from __future__ import annotations

from typing import Any

from tests.fakes import SmtpSink
from tests.integration.payments.conftest import Shop
from tests.integration.payments.test_paid_other_ways import for_client
from tests.integration.payments.test_payments import cancellation_email
from tests.support import register


async def mark(shop: Shop, payment: dict[str, Any], **body: Any) -> Any:
    url = f"/api/admin/payments/{payment['id']}/paid"
    return await shop.client.post(url, json=body, headers=shop.practice.admin)


async def admin_payments(shop: Shop, status: str) -> list[dict[str, Any]]:
    found = await shop.client.get(
        "/api/admin/payments", params={"status": status}, headers=shop.practice.admin
    )
    assert found.status_code == 200, found.text
    return list(found.json())


async def test_a_due_payment_marked_paid_counts_as_revenue_and_shows_on_its_receipt(
    shop: Shop,
) -> None:
    made, me = await for_client(shop, pay_later=True)
    assert made.status_code == 201, made.text
    due = await shop.my_payment(me)
    assert (due["status"], due["method"]) == ("due", None)
    admin_id = (await shop.client.get("/api/me", headers=shop.practice.admin)).json()["id"]
    shop.clock.advance(days=1)  # paid at the session's day, Tuesday 2027-03-02
    assert [p["id"] for p in await admin_payments(shop, "due")] == [due["id"]]

    marked = await mark(shop, due, method="cash", note="receipt book 17")
    assert marked.status_code == 200, marked.text
    paid = marked.json()
    assert (paid["id"], paid["status"], paid["method"]) == (due["id"], "paid", "cash")
    assert paid["client"]["email"].endswith("@example.com")
    entry = paid["history"][-1]
    assert (entry["from"], entry["to"], entry["at"]) == ("due", "paid", "2027-03-02T06:00:00Z")
    assert (entry["actor"], entry["method"], entry["note"]) == (
        admin_id, "cash", "receipt book 17"
    )  # fmt: skip
    assert await admin_payments(shop, "due") == []
    assert [p["id"] for p in await admin_payments(shop, "paid")] == [due["id"]]
    # Again (a double click, a retried request): the same payment, nothing added.
    again = await mark(shop, due, method="card_terminal")
    assert again.status_code == 200, again.text
    assert (again.json()["method"], len(again.json()["history"])) == ("cash", len(paid["history"]))

    # Revenue counts it on the day it was marked; the client's receipt says when and how.
    url = "/api/admin/payments/revenue?period=day&from=2027-03-01&to=2027-03-03"
    days = (await shop.client.get(url, headers=shop.practice.admin)).json()
    assert [(r["start"][:10], r["paid_cents"], r["currency"]) for r in days] == [
        ("2027-03-02", 9000, "GBP")
    ]
    receipt = await shop.client.get(f"/api/payments/{due['id']}/receipt", headers=me)
    assert receipt.status_code == 200, receipt.text
    shown = receipt.json()
    assert (shown["paid_at"], shown["method"], shown["net_cents"]) == (
        "2027-03-02T06:00:00Z", "cash", 9000
    )  # fmt: skip

    # Its money was not taken by Stripe: the practice gives it back itself.
    refund = await shop.client.post(
        f"/api/admin/payments/{due['id']}/refund", json={}, headers=shop.practice.admin
    )
    assert (refund.status_code, refund.json()["error"]) == (409, "not_refundable")
    assert shop.stripe.refunds == []


async def test_only_a_due_payment_can_be_marked_paid(shop: Shop) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    pending = await shop.my_payment(me)
    refused = await mark(shop, pending, method="cash")
    assert (refused.status_code, refused.json()["error"]) == (409, "payment_not_due")
    assert (await shop.my_payment(me))["status"] == "pending"
    assert await shop.status_of(held, me) == "pending_payment"

    made, other = await for_client(shop, pay_later=True, start="2027-03-03T13:00:00Z")
    due = await shop.my_payment(other)
    refused = await shop.client.get(
        "/api/admin/payments", params={"status": "owed"}, headers=shop.practice.admin
    )
    assert refused.status_code == 422
    bad = await mark(shop, due, method="cheque")
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid")
    as_client = await shop.client.post(
        f"/api/admin/payments/{due['id']}/paid", json={"method": "cash"}, headers=other
    )
    assert as_client.status_code == 403
    nothing = await mark(shop, {"id": "0" * 24}, method="cash")
    assert (nothing.status_code, nothing.json()["error"]) == (404, "payment_not_found")
    # Cancelled before it was paid: nothing is owed any more, nothing to mark.
    await shop.cancel(made.json(), other)
    await shop.settle()
    gone = await mark(shop, due, method="cash")
    assert (gone.status_code, gone.json()["error"]) == (409, "payment_not_due")


async def test_cancelling_a_session_paid_at_the_practice_does_not_promise_a_card_refund(
    shop: Shop, smtp: SmtpSink
) -> None:
    made, me = await for_client(shop, pay_later=True)
    assert (await mark(shop, await shop.my_payment(me), method="bank_transfer")).status_code == 200
    await shop.cancel(made.json(), me)  # two days ahead, well before the refund cutoff
    await shop.settle()
    assert (await shop.my_payment(me))["status"] == "paid"
    assert shop.stripe.refunds == []
    told = " ".join(cancellation_email(smtp).split())
    assert "You paid 90.00 GBP at the practice" in told
    assert "card" not in told
