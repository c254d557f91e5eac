"""Book and pay online: a prepaid booking holds its time until Stripe's signed webhook says it
is paid (asked again at Stripe), or until the hold lapses and frees it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from holdfast.inbox import service as inbox
from holdfast.inbox.models import Delivery
from holdfast.jobs.models import Job
from holdfast.jobs.periodic import ensure_next
from holdfast.jobs.registry import default_registry

from tests.fakes import SmtpSink
from tests.fakes.stripe import event
from tests.integration.conftest import FailCommands
from tests.integration.payments.conftest import START, Shop, add_prepaid
from tests.support import register, run_all_due


async def test_a_prepaid_booking_holds_its_time_until_the_signed_webhook_confirms_it(
    shop: Shop,
) -> None:
    me = await register(shop.client)
    booking = await shop.hold(me)
    assert booking["status"] == "pending_payment"
    payment = booking["payment"]
    assert (payment["amount_cents"], payment["currency"]) == (9000, "GBP")
    assert payment["checkout_url"].startswith(f"{shop.stripe.url}/pay/cs_test_")
    assert payment["expires_at"] == "2027-03-01T06:15:00Z"  # the hold: 15 minutes
    session = shop.session()
    assert session["metadata"] == {"booking_id": booking["id"]}
    assert session["amount_total"] == 9000

    # The time is held: nobody else gets it.
    taken = await shop.book(await register(shop.client))
    assert taken.status_code == 409, taken.text
    # Not confirmed yet: no confirmation.
    assert await Job.find({"kind": "notify.confirmation"}).count() == 0

    # A bad signature, or one too old, is refused and nothing is stored.
    paid = shop.stripe.pay(session["id"])
    forged = await shop.deliver(paid, secret="whsec_wrong")
    assert forged.status_code == 403, forged.text
    shop.clock.advance(seconds=301)
    late = await shop.deliver(paid, signed_ago=301)
    assert late.status_code == 403, late.text
    assert await Delivery.find({"source": "stripe"}).count() == 0

    # The same event five times at once: stored once, one outcome.
    answers = await asyncio.gather(*(shop.deliver(paid) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert await Delivery.find({"source": "stripe"}).count() == 1
    await shop.settle()
    assert await shop.status_of(booking, me) == "confirmed"
    mine = await shop.my_payment(me)
    assert mine["status"] == "paid"
    assert [h["to"] for h in mine["history"] if "to" in h] == ["pending", "paid"]
    assert await Job.find({"kind": "notify.confirmation"}).count() == 1
    assert await Job.find({"kind": "notify.reminder"}).count() == 1

    # The hold's job finds it paid and changes nothing; the Session stays complete.
    shop.clock.advance(minutes=15)
    await shop.settle()
    assert await shop.status_of(booking, me) == "confirmed"
    assert shop.stripe.sessions[session["id"]]["status"] == "complete"
    listed = await shop.client.get("/api/admin/payments", headers=shop.practice.admin)
    assert [p["status"] for p in listed.json()] == ["paid"]


async def test_an_event_is_acted_on_only_as_stripe_has_it_when_asked(shop: Shop) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    # A body claiming payment that Stripe does not confirm (the Session is still unpaid).
    claimed = event("checkout.session.completed", {**shop.session(), "payment_status": "paid"})
    assert (await shop.deliver(claimed)).status_code == 200
    unknown = event("customer.created", {"id": "cus_1"})
    assert (await shop.deliver(unknown)).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, me) == "pending_payment"
    decided = {d.kind: d.status for d in await Delivery.find({"source": "stripe"}).to_list()}
    assert decided == {"checkout.session.completed": "ignored", "customer.created": "ignored"}


async def test_a_lapsed_hold_expires_at_stripe_and_frees_the_time(shop: Shop) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    shop.clock.advance(minutes=14)
    await shop.settle()
    assert await shop.status_of(held, me) == "pending_payment"
    shop.clock.advance(minutes=1)
    await shop.settle()
    assert await shop.status_of(held, me) == "expired"
    assert shop.session()["status"] == "expired"
    assert (await shop.my_payment(me))["status"] == "expired"
    # The time is free again.
    again = await shop.book(await register(shop.client))
    assert again.status_code == 201, again.text


async def test_paid_just_after_the_hold_lapsed_is_confirmed_while_the_time_is_still_free(
    shop: Shop,
) -> None:
    held, me = await shop.lapse()
    await shop.paid_after_lapse(held)
    await shop.settle()
    assert await shop.status_of(held, me) == "confirmed"
    assert (await shop.my_payment(me))["status"] == "paid"


async def test_paid_after_the_time_went_to_someone_else_is_refunded_and_the_person_told(
    shop: Shop, smtp: SmtpSink
) -> None:
    held, me = await shop.pay_late()
    await shop.settle()
    assert await shop.status_of(held, me) == "expired"
    mine = await shop.my_payment(me)
    assert (mine["status"], mine["refunded_cents"]) == ("refunded", 9000)
    refunds = [(r["payment_intent"], r["amount"]) for r in shop.stripe.refunds]
    assert refunds == [("pi_late", 9000)]
    told = [m for m in smtp.messages if str(m["Subject"]).startswith("Refunded")]
    assert len(told) == 1
    assert "90.00 GBP" in str(told[0]["Subject"])
    assert "booked by someone else" in told[0].get_body().get_content()  # type: ignore[union-attr]


async def test_a_refund_whose_record_failed_after_stripe_answered_refunds_once(
    shop: Shop, fail_commands: FailCommands
) -> None:
    _, me = await shop.pay_late()
    await inbox.enqueue_received(shop.ctx)
    await run_all_due(shop.ctx, shop.settings)  # the delivery: paid late, a refund job written
    assert (await shop.my_payment(me))["status"] == "paid"
    # Stripe refunds, then the write that records it fails (as if the worker died there).
    fail_commands(["update"], times=1, errorCode=91, closeConnection=False)
    outcomes = await run_all_due(shop.ctx, shop.settings)
    assert len(shop.stripe.refunds) == 1
    assert (await shop.my_payment(me))["status"] == "paid"
    assert outcomes, outcomes
    shop.clock.advance(minutes=5)  # the retry's backoff
    await shop.settle()
    assert (await shop.my_payment(me))["status"] == "refunded"
    assert len(shop.stripe.refunds) == 1  # asked again with the same key: the same refund


async def test_payments_off_refuses_a_prepaid_service_and_books_the_rest(shop: Shop) -> None:
    ctx = shop.ctx
    object.__setattr__(ctx, "settings", ctx.settings.model_copy(update={"stripe_secret_key": None}))
    me = await register(shop.client)
    refused = await shop.book(me)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "payments_unavailable"
    assert "online payment is not available" in refused.json()["detail"]
    free = await shop.book(me, shop.practice.session)
    assert free.status_code == 201, free.text
    assert free.json()["status"] == "confirmed" and free.json()["payment"] is None


async def test_stripe_unreachable_lets_the_hold_go_at_once(shop: Shop) -> None:
    shop.stripe.down = True
    me = await register(shop.client)
    refused = await shop.book(me)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "payments_unavailable"
    shop.stripe.down = False
    await shop.hold(me)


def cancellation_email(smtp: SmtpSink) -> str:
    """The body of the one cancellation email the client got (the practice gets its own)."""
    cancelled = [m for m in smtp.messages if str(m["Subject"]).startswith("Cancelled")]
    bodies = [str(m.get_body().get_content()) for m in cancelled]  # type: ignore[union-attr]
    [told] = [body for body in bodies if "You can book another time" in body]
    return told


async def test_cancelling_a_paid_booking_before_the_cutoff_refunds_it_in_full(
    shop: Shop, smtp: SmtpSink
) -> None:
    booking, me = await shop.paid_booking()
    await shop.cancel(booking, me)  # 53 hours ahead; the cutoff is 24
    await shop.settle()
    mine = await shop.my_payment(me)
    assert (mine["status"], mine["refunded_cents"]) == ("refunded", 9000)
    assert [r["amount"] for r in shop.stripe.refunds] == [9000]
    assert "Your payment of 90.00 GBP is refunded in full" in cancellation_email(smtp)


async def test_after_the_cutoff_only_an_admin_refunds_in_part_or_in_full(
    shop: Shop, smtp: SmtpSink
) -> None:
    strict = await add_prepaid(
        shop.client, shop.practice, name="Strict session", refund_cutoff_hours=72
    )
    booking, me = await shop.paid_booking(strict)
    await shop.cancel(booking, me)
    await shop.settle()
    payment = await shop.my_payment(me)
    assert (payment["status"], shop.stripe.refunds) == ("paid", [])  # inside the cutoff
    told = " ".join(cancellation_email(smtp).split())
    assert "No refund applies to your payment of 90.00 GBP" in told
    assert "cancelled less than 72 hours before it started" in told

    admin = shop.practice.admin
    url = f"/api/admin/payments/{payment['id']}/refund"
    as_client = await shop.client.post(url, json={"amount_cents": 3000}, headers=me)
    assert as_client.status_code == 403, as_client.text
    too_much = await shop.client.post(url, json={"amount_cents": 9001}, headers=admin)
    assert too_much.status_code == 422 and too_much.json()["error"] == "refund_too_large"
    part = await shop.client.post(url, json={"amount_cents": 3000}, headers=admin)
    assert part.status_code == 202, part.text
    await shop.settle()
    payment = await shop.my_payment(me)
    assert (payment["status"], payment["refunded_cents"]) == ("partially_refunded", 3000)
    rest = await shop.client.post(url, json={}, headers=admin)
    assert rest.status_code == 202, rest.text
    await shop.settle()
    payment = await shop.my_payment(me)
    assert (payment["status"], payment["refunded_cents"]) == ("refunded", 9000)
    assert [r["amount"] for r in shop.stripe.refunds] == [3000, 6000]
    nothing = await shop.client.post(url, json={}, headers=admin)
    assert nothing.status_code == 409 and nothing.json()["error"] == "not_refundable"


async def test_cancelling_a_held_booking_closes_its_checkout_at_once(shop: Shop) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    await shop.cancel(held, me)
    await shop.settle()
    assert shop.session()["status"] == "expired"
    assert (await shop.my_payment(me))["status"] == "expired"
    assert await shop.status_of(held, me) == "cancelled"


async def test_a_lost_webhook_and_a_lost_hold_job_are_settled_by_asking_stripe(
    shop: Shop,
) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    shop.stripe.pay(shop.session()["id"])  # paid at Stripe; its webhook never arrives
    # ... and the hold's own job is gone (say, dead and pruned).
    assert (await Job.find({"kind": "payments.expire_hold"}).delete()).deleted_count == 1
    shop.clock.advance(minutes=15)
    await shop.settle()
    assert await shop.status_of(held, me) == "pending_payment"
    shop.clock.advance(minutes=30)
    registry = default_registry(shop.settings)
    await ensure_next(registry, shop.clock.now - timedelta(minutes=10), {})
    await shop.settle()
    assert await shop.status_of(held, me) == "confirmed"
    assert (await shop.my_payment(me))["status"] == "paid"


async def test_a_refund_made_in_stripes_dashboard_is_recorded_once(shop: Shop) -> None:
    _, me = await shop.paid_booking()
    refunded = shop.stripe.refund_in_dashboard(shop.session()["payment_intent"], 2500)
    for _ in range(2):  # Stripe delivers it twice
        assert (await shop.deliver(refunded)).status_code == 200
    again = {**refunded, "id": "evt_resent_under_another_id"}
    assert (await shop.deliver(again)).status_code == 200
    await shop.settle()
    mine = await shop.my_payment(me)
    assert (mine["status"], mine["refunded_cents"]) == ("partially_refunded", 2500)


async def test_an_expired_hold_cannot_be_cancelled_afterwards(shop: Shop) -> None:
    held, me = await shop.lapse()
    told = {"kind": "notify.cancellation"}
    assert await Job.find(told).count() == 1  # the client heard the hold lapsed
    # Its time went to someone else meanwhile; the lapsed booking's Cancel changes nothing.
    await shop.hold(await register(shop.client))
    await shop.cancel(held, me)
    await shop.settle()
    assert await shop.status_of(held, me) == "expired"
    assert await Job.find(told).count() == 1


async def test_a_hold_that_lapses_unpaid_offers_its_time_to_the_waitlist(
    shop: Shop, smtp: SmtpSink
) -> None:
    waiting = await register(shop.client)
    body = {"service_id": shop.prepaid, "provider_id": shop.practice.london}
    joined = await shop.client.post("/api/waitlist", json=body, headers=waiting)
    assert joined.status_code == 201, joined.text
    await shop.lapse()
    await shop.settle()  # the chain the lapse started

    offers = await shop.client.get("/api/admin/offers", headers=shop.practice.admin)
    assert offers.status_code == 200, offers.text
    waiting_id = (await shop.client.get("/api/me", headers=waiting)).json()["id"]
    assert [(o["user_id"], o["start"], o["state"]) for o in offers.json()] == [
        (waiting_id, START, "sent")
    ]
    assert any(s.startswith("An opening for Paid session") for s in smtp.subjects())
    # The offer holds the time: nobody else books it meanwhile.
    taken = await shop.book(await register(shop.client))
    assert (taken.status_code, taken.json()["error"]) == (409, "slot_taken")
