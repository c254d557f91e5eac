"""The edges of paying: a paid booking moved to another time, Checkouts that end unpaid (a
delayed payment failing, Stripe expiring the Session), and the paid webhook arriving before
the booking's own write is visible."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from holdfast.bookings.models import Booking
from holdfast.inbox.models import Delivery
from holdfast.payments.models import Payment

from tests.fakes.stripe import event
from tests.integration.payments.conftest import Shop
from tests.support import register


async def test_a_rescheduled_paid_booking_stays_paid_and_is_never_charged_again(
    shop: Shop,
) -> None:
    booking, me = await shop.paid_booking()
    moved = await shop.client.post(
        f"/api/bookings/{booking['id']}/reschedule",
        json={"start": "2027-03-03T14:00:00Z"},
        headers=me,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["start"]) == ("confirmed", "2027-03-03T14:00:00Z")
    await shop.settle()
    mine = await shop.my_payment(me)  # still the one payment, paid
    assert (mine["status"], mine["booking_id"]) == ("paid", booking["id"])
    assert len(shop.stripe.sessions) == 1 and shop.stripe.refunds == []
    # Cancelled after the move: the one payment is refunded, once.
    await shop.cancel(booking, me)
    await shop.settle()
    assert [r["amount"] for r in shop.stripe.refunds] == [9000]


def unpaid(shop: Shop, held: dict[str, Any], status: str) -> dict[str, Any]:
    """The held booking's Session at Stripe ended unpaid (`status`): its id."""
    session = shop.session(held)
    session.update(status=status, payment_status="unpaid")
    return session


async def test_a_delayed_payment_that_fails_lets_the_time_go_at_once(shop: Shop) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    session = unpaid(shop, held, "complete")  # a bank debit: completed, not paid yet
    assert (await shop.deliver(event("checkout.session.completed", session))).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, me) == "pending_payment"
    failed = event("checkout.session.async_payment_failed", session)
    for n in range(2):  # sent twice, under two event ids
        assert (await shop.deliver({**failed, "id": f"{failed['id']}_{n}"})).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, me) == "expired"
    assert (await shop.my_payment(me))["status"] == "failed"
    again = await shop.book(await register(shop.client))  # the time is free
    assert again.status_code == 201, again.text
    decided = [d.status for d in await Delivery.find({"source": "stripe"}).to_list()]
    assert sorted(decided) == ["ignored", "processed", "processed"]


async def test_a_checkout_stripe_expires_lets_the_hold_go_and_a_claim_alone_does_not(
    shop: Shop,
) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    # A body claiming expiry while Stripe still has the Session open changes nothing.
    claimed = event("checkout.session.expired", {**shop.session(held), "status": "expired"})
    assert (await shop.deliver(claimed)).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, me) == "pending_payment"
    expired = event("checkout.session.expired", unpaid(shop, held, "expired"))
    assert (await shop.deliver(expired)).status_code == 200
    await shop.settle()
    assert await shop.status_of(held, me) == "expired"
    assert (await shop.my_payment(me))["status"] == "expired"


async def test_paid_before_the_bookings_own_write_is_visible_is_confirmed_once_it_is(
    shop: Shop,
) -> None:
    me = await register(shop.client)
    held = await shop.hold(me)
    # The booking and its payment are not visible yet (as to a reader the commit has not
    # reached): taken out, to be put back as they were.
    booking_id = PydanticObjectId(held["id"])
    booking = await Booking.get_pymongo_collection().find_one_and_delete({"_id": booking_id})
    assert booking is not None
    payment = await Payment.get_pymongo_collection().find_one_and_delete({"booking_id": booking_id})
    assert payment is not None
    paid = shop.stripe.pay(shop.session(held)["id"])
    assert (await shop.deliver(paid)).status_code == 200
    await shop.settle()
    [delivery] = await Delivery.find({"source": "stripe"}).to_list()
    assert delivery.status == "received", delivery  # not decided: its job retries

    await Booking.get_pymongo_collection().insert_one(booking)
    await Payment.get_pymongo_collection().insert_one(payment)
    shop.clock.advance(minutes=1)  # past the retry's short backoff
    await shop.settle()
    assert await shop.status_of(held, me) == "confirmed"
    assert (await shop.my_payment(me))["status"] == "paid"
