"""The shop of the payments tests: a practice selling a prepaid service through the fake Stripe,
and what a client, Stripe and the worker do with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import SmtpSink
from tests.fakes.stripe import StripeApi, event
from tests.support import Practice, register, run_all_due

WHSEC = "whsec_test_secret"
START = "2027-03-03T11:00:00Z"  # Wednesday, inside London's hours


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


async def add_prepaid(client: httpx.AsyncClient, practice: Practice, **extra: Any) -> str:
    """A prepaid service of London's, 90.00 GBP an hour; its id."""
    body = {
        "name": "Paid session",
        "duration_minutes": 60,
        "slot_step_minutes": 60,
        "price": {"amount_cents": 9000, "currency": "GBP"},
        "prepay": True,
        "provider_ids": [practice.london],
        **extra,
    }
    created = await client.post("/api/admin/services", json=body, headers=practice.admin)
    assert created.status_code == 201, created.text
    assert created.json()["prepay"] is True
    return str(created.json()["id"])


@dataclass
class Shop:
    """The practice selling a prepaid service, paid through the fake Stripe, and what a client,
    Stripe and the worker do with it."""

    client: httpx.AsyncClient
    practice: Practice
    prepaid: str
    stripe: StripeApi
    clock: Clock
    ctx: Context
    settings: Settings

    async def book(self, me: dict[str, str], service: str | None = None) -> httpx.Response:
        body = {
            "service_id": service or self.prepaid,
            "provider_id": self.practice.london,
            "start": START,
        }
        return await self.client.post("/api/bookings", json=body, headers=me)

    async def hold(self, me: dict[str, str], service: str | None = None) -> dict[str, Any]:
        """A booking made and held awaiting payment."""
        held = await self.book(me, service)
        assert held.status_code == 201, held.text
        return dict(held.json())

    def session(self, booking: dict[str, Any] | None = None) -> dict[str, Any]:
        """The booking's Checkout Session at Stripe (no booking: the only one made)."""
        if booking is not None:
            return self.stripe.sessions[booking["payment"]["checkout_url"].rsplit("/", 1)[1]]
        [session] = self.stripe.sessions.values()
        return session

    async def deliver(
        self, body: dict[str, Any], secret: str = WHSEC, signed_ago: int = 0
    ) -> httpx.Response:
        raw = json.dumps(body)
        # Signed by Stripe's own library: our verification is checked against Stripe's scheme.
        header = stripe.WebhookSignature.generate_signature_header(
            raw, secret, timestamp=int(self.clock.now.timestamp()) - signed_ago
        )
        headers = {"content-type": "application/json", "Stripe-Signature": header}
        return await self.client.post("/webhooks/stripe", content=raw, headers=headers)

    async def settle(self) -> None:
        for _ in range(5):
            await inbox.enqueue_received(self.ctx)  # what the promoter's tick does
            if not await run_all_due(self.ctx, self.settings):
                return

    async def status_of(self, booking: dict[str, Any], me: dict[str, str]) -> str:
        got = await self.client.get(f"/api/bookings/{booking['id']}", headers=me)
        assert got.status_code == 200, got.text
        return str(got.json()["status"])

    async def my_payment(self, me: dict[str, str]) -> dict[str, Any]:
        listed = await self.client.get("/api/payments", headers=me)
        assert listed.status_code == 200, listed.text
        [payment] = listed.json()
        return dict(payment)

    async def cancel(self, booking: dict[str, Any], me: dict[str, str]) -> None:
        url = f"/api/bookings/{booking['id']}/cancel"
        done = await self.client.post(url, json={}, headers=me)
        assert done.status_code == 200, done.text

    async def paid_booking(
        self, service: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A booking paid through Checkout and confirmed; it and its client."""
        me = await register(self.client)
        held = await self.hold(me, service)
        assert (await self.deliver(self.stripe.pay(self.session(held)["id"]))).status_code == 200
        await self.settle()
        assert (await self.my_payment(me))["status"] == "paid"
        return held, me

    async def lapse(self) -> tuple[dict[str, Any], dict[str, str]]:
        """A booking whose hold lapsed unpaid; it and its client."""
        me = await register(self.client)
        held = await self.hold(me)
        self.clock.advance(minutes=15)
        await self.settle()
        assert await self.status_of(held, me) == "expired"
        return held, me

    async def paid_after_lapse(self, held: dict[str, Any]) -> None:
        """Stripe had taken the payment all the same (the payer finished as the hold lapsed),
        and says so."""
        session = self.session(held)
        session.update(status="complete", payment_status="paid", payment_intent="pi_late")
        late = event("checkout.session.completed", dict(session))
        assert (await self.deliver(late)).status_code == 200

    async def pay_late(self) -> tuple[dict[str, Any], dict[str, str]]:
        """A hold that lapsed, its time re-booked by someone else, then paid all the same."""
        held, me = await self.lapse()
        await self.hold(await register(self.client))
        await self.paid_after_lapse(held)
        return held, me


@pytest.fixture
async def shop(
    client: httpx.AsyncClient,
    practice: Practice,
    stripe_api: StripeApi,
    clock: Clock,
    ctx: Context,
    settings: Settings,
) -> Shop:
    prepaid = await add_prepaid(client, practice)
    return Shop(client, practice, prepaid, stripe_api, clock, ctx, settings)
