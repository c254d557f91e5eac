"""Book and pay online: a prepaid booking holds its time until Stripe's signed webhook says it
is paid (asked again at Stripe), or until the hold lapses and frees it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.inbox.models import Delivery
from holdfast.jobs.models import Job
from holdfast.jobs.periodic import ensure_next
from holdfast.jobs.registry import default_registry
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import SmtpSink
from tests.fakes.stripe import StripeApi, event
from tests.integration.conftest import FailCommands
from tests.support import Practice, register, run_all_due

WHSEC = "whsec_test_secret"
START = "2027-03-03T11:00:00Z"  # Wednesday, inside London's hours


@pytest.fixture
def stripe_api() -> Iterator[StripeApi]:
    api = StripeApi().start()
    yield api
    api.stop()


@pytest.fixture
def settings(settings: Settings, stripe_api: StripeApi, smtp: SmtpSink) -> Settings:
    return settings.model_copy(
        update={
            "stripe_secret_key": SecretStr("sk_test_holdfast"),
            "stripe_webhook_secret": SecretStr(WHSEC),
            "stripe_api_url": stripe_api.url,
            "smtp_url": smtp.url,
        }
    )


@pytest.fixture
async def prepaid(client: httpx.AsyncClient, practice: Practice) -> str:
    body = {
        "name": "Paid session",
        "duration_minutes": 60,
        "slot_step_minutes": 60,
        "price": {"amount_cents": 9000, "currency": "GBP"},
        "prepay": True,
        "provider_ids": [practice.london],
    }
    created = await client.post("/api/admin/services", json=body, headers=practice.admin)
    assert created.status_code == 201, created.text
    assert created.json()["prepay"] is True
    return str(created.json()["id"])


async def book(
    client: httpx.AsyncClient, practice: Practice, service: str, me: dict[str, str]
) -> httpx.Response:
    body = {"service_id": service, "provider_id": practice.london, "start": START}
    return await client.post("/api/bookings", json=body, headers=me)


async def deliver(
    client: httpx.AsyncClient, clock: Clock, body: dict[str, Any], secret: str = WHSEC
) -> httpx.Response:
    raw = json.dumps(body)
    # Signed by Stripe's own library: our verification is checked against Stripe's scheme.
    header = stripe.WebhookSignature.generate_signature_header(
        raw, secret, timestamp=int(clock.now.timestamp())
    )
    headers = {"content-type": "application/json", "Stripe-Signature": header}
    return await client.post("/webhooks/stripe", content=raw, headers=headers)


async def settle(ctx: Context, settings: Settings) -> None:
    for _ in range(5):
        await inbox.enqueue_received(ctx)  # what the promoter's tick does
        if not await run_all_due(ctx, settings):
            return


async def status_of(client: httpx.AsyncClient, booking: str, me: dict[str, str]) -> str:
    got = await client.get(f"/api/bookings/{booking}", headers=me)
    assert got.status_code == 200, got.text
    return str(got.json()["status"])


async def my_payment(client: httpx.AsyncClient, me: dict[str, str]) -> dict[str, Any]:
    listed = await client.get("/api/payments", headers=me)
    assert listed.status_code == 200, listed.text
    [payment] = listed.json()
    return dict(payment)


async def test_a_prepaid_booking_holds_its_time_until_the_signed_webhook_confirms_it(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = await book(client, practice, prepaid, me)
    assert held.status_code == 201, held.text
    booking = held.json()
    assert booking["status"] == "pending_payment"
    payment = booking["payment"]
    assert (payment["amount_cents"], payment["currency"]) == (9000, "GBP")
    assert payment["checkout_url"].startswith(f"{stripe_api.url}/pay/cs_test_")
    assert payment["expires_at"] == "2027-03-01T06:15:00Z"  # the hold: 15 minutes
    [session] = stripe_api.sessions.values()
    assert session["metadata"] == {"booking_id": booking["id"]}
    assert session["amount_total"] == 9000

    # The time is held: nobody else gets it.
    other = await register(client)
    taken = await book(client, practice, prepaid, other)
    assert taken.status_code == 409, taken.text
    # Not confirmed yet: no confirmation, and the return URL confirms nothing.
    assert await Job.find({"kind": "notify.confirmation"}).count() == 0

    # A bad signature is refused and nothing is stored.
    paid = stripe_api.pay(session["id"])
    forged = await deliver(client, clock, paid, secret="whsec_wrong")
    assert forged.status_code == 403, forged.text
    clock.advance(seconds=301)
    raw = json.dumps(paid)
    stale = stripe.WebhookSignature.generate_signature_header(
        raw, WHSEC, timestamp=int(clock.now.timestamp()) - 301
    )
    late = await client.post("/webhooks/stripe", content=raw, headers={"Stripe-Signature": stale})
    assert late.status_code == 403, late.text
    assert await Delivery.find({"source": "stripe"}).count() == 0

    # The same event five times at once: stored once, one outcome.
    answers = await asyncio.gather(*(deliver(client, clock, paid) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert await Delivery.find({"source": "stripe"}).count() == 1
    await settle(ctx, settings)
    assert await status_of(client, booking["id"], me) == "confirmed"
    mine = await my_payment(client, me)
    assert mine["status"] == "paid"
    assert [h["to"] for h in mine["history"] if "to" in h] == ["pending", "paid"]
    assert await Job.find({"kind": "notify.confirmation"}).count() == 1
    assert await Job.find({"kind": "notify.reminder"}).count() == 1

    # The hold's job finds it paid and changes nothing; the Session stays complete.
    clock.advance(minutes=15)
    await settle(ctx, settings)
    assert await status_of(client, booking["id"], me) == "confirmed"
    assert stripe_api.sessions[session["id"]]["status"] == "complete"
    listed = await client.get("/api/admin/payments", headers=practice.admin)
    assert [p["status"] for p in listed.json()] == ["paid"]


async def test_an_event_is_acted_on_only_as_stripe_has_it_when_asked(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    [session] = stripe_api.sessions.values()
    # A body claiming payment that Stripe does not confirm (the Session is still unpaid).
    claimed = event("checkout.session.completed", {**session, "payment_status": "paid"})
    assert (await deliver(client, clock, claimed)).status_code == 200
    unknown = event("customer.created", {"id": "cus_1"})
    assert (await deliver(client, clock, unknown)).status_code == 200
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "pending_payment"
    decided = {d.kind: d.status for d in await Delivery.find({"source": "stripe"}).to_list()}
    assert decided == {"checkout.session.completed": "ignored", "customer.created": "ignored"}


async def test_a_lapsed_hold_expires_at_stripe_and_frees_the_time(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    [session] = stripe_api.sessions.values()
    clock.advance(minutes=14)
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "pending_payment"
    clock.advance(minutes=1)
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "expired"
    assert stripe_api.sessions[session["id"]]["status"] == "expired"
    assert (await my_payment(client, me))["status"] == "expired"
    # The time is free again.
    other = await register(client)
    again = await book(client, practice, prepaid, other)
    assert again.status_code == 201, again.text


async def test_paid_just_after_the_hold_lapsed_is_confirmed_while_the_time_is_still_free(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    [session] = stripe_api.sessions.values()
    clock.advance(minutes=15)
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "expired"
    # Stripe had already taken the payment (the payer finished as the hold lapsed).
    stripe_api.sessions[session["id"]].update(
        status="complete", payment_status="paid", payment_intent="pi_late"
    )
    late = event("checkout.session.completed", dict(stripe_api.sessions[session["id"]]))
    assert (await deliver(client, clock, late)).status_code == 200
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "confirmed"
    assert (await my_payment(client, me))["status"] == "paid"


async def pay_late(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A hold that lapsed, its time re-booked by someone else, then paid all the same."""
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    [session] = stripe_api.sessions.values()
    clock.advance(minutes=15)
    await settle(ctx, settings)
    rebooked = await book(client, practice, prepaid, await register(client))
    assert rebooked.status_code == 201, rebooked.text
    stripe_api.sessions[session["id"]].update(
        status="complete", payment_status="paid", payment_intent="pi_late"
    )
    late = event("checkout.session.completed", dict(stripe_api.sessions[session["id"]]))
    assert (await deliver(client, clock, late)).status_code == 200
    return held, me  # fmt: skip


async def test_paid_after_the_time_went_to_someone_else_is_refunded_and_the_person_told(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    held, me = await pay_late(client, practice, prepaid, stripe_api, clock, ctx, settings)
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "expired"
    mine = await my_payment(client, me)
    assert (mine["status"], mine["refunded_cents"]) == ("refunded", 9000)
    assert [(r["payment_intent"], r["amount"]) for r in stripe_api.refunds] == [("pi_late", 9000)]
    told = [m for m in smtp.messages if str(m["Subject"]).startswith("Refunded")]
    assert len(told) == 1
    assert "90.00 GBP" in str(told[0]["Subject"])
    assert "booked by someone else" in told[0].get_body().get_content()  # type: ignore[union-attr]


async def test_a_refund_whose_record_failed_after_stripe_answered_refunds_once(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    fail_commands: FailCommands,
) -> None:
    _, me = await pay_late(client, practice, prepaid, stripe_api, clock, ctx, settings)
    await inbox.enqueue_received(ctx)
    await run_all_due(ctx, settings)  # the delivery: paid late, a refund job written
    assert (await my_payment(client, me))["status"] == "paid"
    # Stripe refunds, then the write that records it fails (as if the worker died there).
    fail_commands(["update"], times=1, errorCode=91, closeConnection=False)
    outcomes = await run_all_due(ctx, settings)
    assert len(stripe_api.refunds) == 1
    assert (await my_payment(client, me))["status"] == "paid"
    assert outcomes, outcomes
    clock.advance(minutes=5)  # the retry's backoff
    await settle(ctx, settings)
    assert (await my_payment(client, me))["status"] == "refunded"
    assert len(stripe_api.refunds) == 1  # asked again with the same key: the same refund


async def test_payments_off_refuses_a_prepaid_service_and_books_the_rest(
    client: httpx.AsyncClient, practice: Practice, prepaid: str, ctx: Context
) -> None:
    object.__setattr__(ctx, "settings", ctx.settings.model_copy(update={"stripe_secret_key": None}))
    me = await register(client)
    refused = await book(client, practice, prepaid, me)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "payments_unavailable"
    assert "online payment is not available" in refused.json()["detail"]
    free = await book(client, practice, practice.session, me)
    assert free.status_code == 201, free.text
    assert free.json()["status"] == "confirmed" and free.json()["payment"] is None


async def test_stripe_unreachable_lets_the_hold_go_at_once(
    client: httpx.AsyncClient, practice: Practice, prepaid: str, stripe_api: StripeApi
) -> None:
    stripe_api.down = True
    me = await register(client)
    refused = await book(client, practice, prepaid, me)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "payments_unavailable"
    stripe_api.down = False
    again = await book(client, practice, prepaid, me)
    assert again.status_code == 201, again.text


async def paid_booking(
    client: httpx.AsyncClient,
    practice: Practice,
    service: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> tuple[dict[str, Any], dict[str, str]]:
    me = await register(client)
    held = await book(client, practice, service, me)
    assert held.status_code == 201, held.text
    session_id = held.json()["payment"]["checkout_url"].rsplit("/", 1)[1]
    assert (await deliver(client, clock, stripe_api.pay(session_id))).status_code == 200
    await settle(ctx, settings)
    assert (await my_payment(client, me))["status"] == "paid"
    return held.json(), me  # fmt: skip


async def cancel(client: httpx.AsyncClient, booking: dict[str, Any], me: dict[str, str]) -> None:
    done = await client.post(f"/api/bookings/{booking['id']}/cancel", json={}, headers=me)
    assert done.status_code == 200, done.text


async def test_cancelling_a_paid_booking_before_the_cutoff_refunds_it_in_full(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    booking, me = await paid_booking(client, practice, prepaid, stripe_api, clock, ctx, settings)
    await cancel(client, booking, me)  # 53 hours ahead; the cutoff is 24
    await settle(ctx, settings)
    mine = await my_payment(client, me)
    assert (mine["status"], mine["refunded_cents"]) == ("refunded", 9000)
    assert [r["amount"] for r in stripe_api.refunds] == [9000]


async def test_after_the_cutoff_only_an_admin_refunds_in_part_or_in_full(
    client: httpx.AsyncClient,
    practice: Practice,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    body = {
        "name": "Strict session",
        "duration_minutes": 60,
        "price": {"amount_cents": 9000, "currency": "GBP"},
        "prepay": True,
        "refund_cutoff_hours": 72,
        "provider_ids": [practice.london],
    }
    created = await client.post("/api/admin/services", json=body, headers=practice.admin)
    strict = created.json()["id"]
    booking, me = await paid_booking(client, practice, strict, stripe_api, clock, ctx, settings)
    await cancel(client, booking, me)
    await settle(ctx, settings)
    payment = await my_payment(client, me)
    assert (payment["status"], stripe_api.refunds) == ("paid", [])  # inside the cutoff

    url = f"/api/admin/payments/{payment['id']}/refund"
    as_client = await client.post(url, json={"amount_cents": 3000}, headers=me)
    assert as_client.status_code == 403, as_client.text
    too_much = await client.post(url, json={"amount_cents": 9001}, headers=practice.admin)
    assert too_much.status_code == 422 and too_much.json()["error"] == "refund_too_large"
    part = await client.post(url, json={"amount_cents": 3000}, headers=practice.admin)
    assert part.status_code == 202, part.text
    await settle(ctx, settings)
    payment = await my_payment(client, me)
    assert (payment["status"], payment["refunded_cents"]) == ("partially_refunded", 3000)
    rest = await client.post(url, json={}, headers=practice.admin)
    assert rest.status_code == 202, rest.text
    await settle(ctx, settings)
    payment = await my_payment(client, me)
    assert (payment["status"], payment["refunded_cents"]) == ("refunded", 9000)
    assert [r["amount"] for r in stripe_api.refunds] == [3000, 6000]
    nothing = await client.post(url, json={}, headers=practice.admin)
    assert nothing.status_code == 409 and nothing.json()["error"] == "not_refundable"


async def test_cancelling_a_held_booking_closes_its_checkout_at_once(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    await cancel(client, held, me)
    await settle(ctx, settings)
    [session] = stripe_api.sessions.values()
    assert session["status"] == "expired"
    assert (await my_payment(client, me))["status"] == "expired"
    assert await status_of(client, held["id"], me) == "cancelled"


async def test_a_lost_webhook_and_a_lost_hold_job_are_settled_by_asking_stripe(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    me = await register(client)
    held = (await book(client, practice, prepaid, me)).json()
    [session] = stripe_api.sessions.values()
    stripe_api.pay(session["id"])  # paid at Stripe; its webhook never arrives
    # ... and the hold's own job is gone (say, dead and pruned).
    assert (await Job.find({"kind": "payments.expire_hold"}).delete()).deleted_count == 1
    clock.advance(minutes=15)
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "pending_payment"
    clock.advance(minutes=30)
    await ensure_next(default_registry(settings), clock.now - timedelta(minutes=10), {})
    await settle(ctx, settings)
    assert await status_of(client, held["id"], me) == "confirmed"
    assert (await my_payment(client, me))["status"] == "paid"


async def test_a_refund_made_in_stripes_dashboard_is_recorded_once(
    client: httpx.AsyncClient,
    practice: Practice,
    prepaid: str,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> None:
    _, me = await paid_booking(client, practice, prepaid, stripe_api, clock, ctx, settings)
    [session] = stripe_api.sessions.values()
    refunded = stripe_api.refund_in_dashboard(session["payment_intent"], 2500)
    for _ in range(2):  # Stripe delivers it twice
        assert (await deliver(client, clock, refunded)).status_code == 200
    again = {**refunded, "id": "evt_resent_under_another_id"}
    assert (await deliver(client, clock, again)).status_code == 200
    await settle(ctx, settings)
    mine = await my_payment(client, me)
    assert (mine["status"], mine["refunded_cents"]) == ("partially_refunded", 2500)
