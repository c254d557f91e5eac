"""What a client and the practice see of payments: a receipt per payment (what, when, how much,
refunds), everyone's payments naming their clients, and revenue per period (paid minus
refunded) in the payments section and in `GET /api/admin/stats`."""

from __future__ import annotations

from typing import Any

from tests.integration.payments.conftest import START, Shop
from tests.support import register


async def refund(shop: Shop, payment: dict[str, Any], cents: int | None = None) -> None:
    body = {} if cents is None else {"amount_cents": cents}
    url = f"/api/admin/payments/{payment['id']}/refund"
    asked = await shop.client.post(url, json=body, headers=shop.practice.admin)
    assert asked.status_code == 202, asked.text
    await shop.settle()


async def test_a_receipt_says_what_when_how_much_and_what_was_refunded(shop: Shop) -> None:
    _, me = await shop.paid_booking()
    payment = await shop.my_payment(me)
    url = f"/api/payments/{payment['id']}/receipt"
    got = await shop.client.get(url, headers=me)
    assert got.status_code == 200, got.text
    paid = got.json()
    assert (paid["service"], paid["provider"]) == ("Paid session", "Ada")
    assert (paid["amount_cents"], paid["currency"], paid["status"]) == (9000, "GBP", "paid")
    assert (paid["start"], paid["paid_at"]) == (START, "2027-03-01T06:00:00Z")
    assert (paid["refunds"], paid["refunded_cents"], paid["net_cents"]) == ([], 0, 9000)
    assert paid["client"]["name"] == "Client"

    shop.clock.advance(days=1)
    await refund(shop, payment, 2500)
    later = (await shop.client.get(url, headers=me)).json()
    assert later["status"] == "partially_refunded"
    assert later["refunds"] == [{"at": "2027-03-02T06:00:00Z", "amount_cents": 2500}]
    assert (later["refunded_cents"], later["net_cents"]) == (2500, 6500)

    # Only its own client and the practice see it; for anyone else it does not exist.
    stranger = await shop.client.get(url, headers=await register(shop.client))
    assert stranger.status_code == 404 and stranger.json()["error"] == "payment_not_found"
    assert (await shop.client.get(url, headers=shop.practice.admin)).status_code == 200
    assert (await shop.client.get(url)).status_code == 401
    nonsense = await shop.client.get("/api/payments/nonsense/receipt", headers=me)
    assert nonsense.status_code == 404, nonsense.text
    page = await shop.client.get(f"/payments/{payment['id']}/receipt")
    assert page.status_code == 200 and "/static/payment_receipt.js" in page.text


async def test_revenue_per_period_is_paid_minus_refunded_when_each_happened(shop: Shop) -> None:
    admin = shop.practice.admin
    _, first = await shop.paid_booking()  # Monday 2027-03-01
    shop.clock.advance(days=1)
    await refund(shop, await shop.my_payment(first), 2000)  # Tuesday
    # Monday of the next week (02:00; within a week of logging in): the other 7000.
    shop.clock.advance(days=5, hours=20)
    await refund(shop, await shop.my_payment(first))

    def revenue(period: str) -> str:
        return f"/api/admin/payments/revenue?period={period}&from=2027-02-01&to=2027-03-31"

    days = (await shop.client.get(revenue("day"), headers=admin)).json()
    assert [
        (r["start"][:10], r["paid_cents"], r["refunded_cents"], r["net_cents"]) for r in days
    ] == [
        ("2027-03-01", 9000, 0, 9000),
        ("2027-03-02", 0, 2000, -2000),
        ("2027-03-08", 0, 7000, -7000),
    ]
    weeks = (await shop.client.get(revenue("week"), headers=admin)).json()
    assert [(r["start"][:10], r["net_cents"], r["payments"]) for r in weeks] == [
        ("2027-03-01", 7000, 1),
        ("2027-03-08", -7000, 0),
    ]
    months = (await shop.client.get(revenue("month"), headers=admin)).json()
    assert [(r["start"], r["currency"], r["net_cents"]) for r in months] == [
        ("2027-03-01T00:00:00Z", "GBP", 0)
    ]
    as_client = await shop.client.get(revenue("day"), headers=first)
    assert as_client.status_code == 403
    bad = await shop.client.get("/api/admin/payments/revenue?period=year", headers=admin)
    assert bad.status_code == 422, bad.text

    stats = await shop.client.get("/api/admin/stats?from=2027-03-01&to=2027-03-08", headers=admin)
    assert stats.status_code == 200, stats.text
    part = stats.json()["payments"]
    assert [(r["paid_cents"], r["refunded_cents"], r["net_cents"]) for r in part["revenue"]] == [
        (9000, 9000, 0)
    ]
    assert part["by_status"] == {"refunded": 1}


async def test_the_admin_list_names_each_payments_client_a_page_at_a_time(shop: Shop) -> None:
    for _ in range(3):
        await shop.lapse()  # three holds of the same time, one after another
    page = await shop.client.get("/api/admin/payments?limit=2", headers=shop.practice.admin)
    assert page.status_code == 200, page.text
    people = [p["client"] for p in page.json()]
    assert [p["name"] for p in people] == ["Client", "Client"]
    assert len({p["email"] for p in people}) == 2
    rest = await shop.client.get(
        f"/api/admin/payments?limit=2&cursor={page.headers['X-Next-Cursor']}",
        headers=shop.practice.admin,
    )
    assert len(rest.json()) == 1 and "X-Next-Cursor" not in rest.headers
