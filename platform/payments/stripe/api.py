"""Stripe's API, through the official SDK with a pinned API version and short timeouts.

Above this module Stripe is frozen dataclasses (`Checkout`, `Refund`): nothing else sees the
SDK's objects. The SDK's synchronous client (requests, its own dependency) runs in a thread:
its httpx-based async client posts forms in a way httpx deprecates. Stripe is only ever asked
and told; whether a payment is confirmed is decided by `holdfast.payments.service`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import stripe
from holdfast.settings import Settings

# The API version every request names: Stripe's answers keep this shape whatever the account's
# default becomes.
API_VERSION = "2026-10-28.endive"
# Connecting, then reading the answer.
TIMEOUT_SECONDS = (3.05, 10.0)


class StripeUnavailable(Exception):
    """Stripe could not be reached or refused; the job retries (or the request answers 503)."""


@dataclass(frozen=True, slots=True)
class Checkout:
    """A Checkout Session as Stripe has it now."""

    id: str
    url: str | None
    status: str  # open, complete, expired
    payment_status: str  # unpaid, paid, no_payment_required
    amount_total: int
    currency: str  # upper case, as Holdfast keeps currencies
    payment_intent: str | None
    booking_id: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    amount: int
    status: str


@cache
def _built(key: str, api_url: str) -> stripe.StripeClient:
    """One client (and its pool of connections) per process and configuration: settings are
    read once at start-up, so in a running process this is built once and reused."""
    return stripe.StripeClient(
        key,
        stripe_version=API_VERSION,
        base_addresses={"api": api_url},
        max_network_retries=1,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


def _client(settings: Settings) -> stripe.StripeClient:
    key = settings.stripe_secret_key
    if key is None:
        raise StripeUnavailable("payments are off: HOLDFAST_STRIPE_SECRET_KEY is not set")
    return _built(key.get_secret_value(), settings.stripe_api_url)


async def _ask(settings: Settings, call: Callable[[stripe.StripeClient], Any]) -> Any:
    """One request to Stripe, in a thread; its failures become `StripeUnavailable`."""
    client = _client(settings)
    try:
        return await asyncio.to_thread(call, client)
    except stripe.StripeError as exc:
        raise StripeUnavailable(str(exc)) from exc


def _checkout(found: Any) -> Checkout:
    session: dict[str, Any] = found.to_dict()
    intent = session.get("payment_intent")
    return Checkout(
        id=str(session["id"]),
        url=session.get("url"),
        status=str(session.get("status")),
        payment_status=str(session.get("payment_status")),
        amount_total=int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or "").upper(),
        payment_intent=intent if isinstance(intent, str) or intent is None else str(intent["id"]),
        booking_id=(session.get("metadata") or {}).get("booking_id"),
        expires_at=datetime.fromtimestamp(int(session["expires_at"]), UTC),
    )


async def create_checkout(
    settings: Settings,
    *,
    booking_id: str,
    name: str,
    amount_cents: int,
    currency: str,
    expires_at: datetime,
    email: str | None,
    success_url: str,
    cancel_url: str,
) -> Checkout:
    """A Checkout Session for one booking; its Idempotency-Key is the booking's, so however
    often this is asked, Stripe makes one Session (one way to pay, never two charges)."""
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": booking_id,
        "metadata": {"booking_id": booking_id},
        "payment_intent_data": {"metadata": {"booking_id": booking_id}},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_cents,
                    "product_data": {"name": name},
                },
            }
        ],
        "expires_at": int(expires_at.timestamp()),
        # Stripe puts the Session's id in place of the placeholder.
        "success_url": f"{success_url}&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": cancel_url,
    }
    if email:
        params["customer_email"] = email
    options: Any = {"idempotency_key": f"holdfast-checkout-{booking_id}"}
    session = await _ask(settings, lambda c: c.v1.checkout.sessions.create(params, options))  # type: ignore[arg-type]
    return _checkout(session)


async def read_checkout(settings: Settings, session_id: str) -> Checkout:
    return _checkout(await _ask(settings, lambda c: c.v1.checkout.sessions.retrieve(session_id)))


async def expire_checkout(settings: Settings, session_id: str) -> Checkout:
    """Close the Session so it can no longer be paid; one already complete (paid in the
    meantime) or expired is answered as it is."""
    try:
        session = await _ask(settings, lambda c: c.v1.checkout.sessions.expire(session_id))
    except StripeUnavailable as exc:
        if not isinstance(exc.__cause__, stripe.InvalidRequestError):
            raise
        return await read_checkout(settings, session_id)
    return _checkout(session)


async def refund(settings: Settings, *, payment_intent: str, amount: int, key: str) -> Refund:
    """Refund `amount` of a payment; `key` makes a retried request refund once."""
    params: Any = {"payment_intent": payment_intent, "amount": amount}
    made = await _ask(settings, lambda c: c.v1.refunds.create(params, {"idempotency_key": key}))
    return Refund(id=str(made.id), amount=int(made.amount), status=str(made.status))


async def refunds_of(settings: Settings, payment_intent: str) -> list[Refund]:
    """Every refund of a payment, as Stripe has them now."""
    params: Any = {"payment_intent": payment_intent, "limit": 100}
    found = await _ask(settings, lambda c: c.v1.refunds.list(params))
    return [Refund(id=str(r.id), amount=int(r.amount), status=str(r.status)) for r in found.data]
