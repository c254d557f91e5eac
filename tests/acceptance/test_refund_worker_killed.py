"""A worker SIGKILLed after Stripe answered its refund, before Holdfast recorded it: real api,
promoter and worker processes against the fake Stripe. The next worker asks again with the
same Idempotency-Key and records the one refund Stripe made."""

from __future__ import annotations

import signal
import threading
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from holdfast.embedded import Server, free_port, redis_url
from holdfast.settings import Settings

from tests.fakes.stripe import StripeApi
from tests.support import (
    api_process,
    create_admin,
    holdfast_process,
    login,
    register_sync,
    settings_env,
    wait_until,
)

WHSEC = "whsec_killed_worker"


def prepaid_service(url: str, admin: dict[str, str]) -> tuple[str, str]:
    provider = httpx.post(
        f"{url}/api/admin/providers", json={"name": "Ada", "timezone": "UTC"}, headers=admin
    ).json()["id"]
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    httpx.put(
        f"{url}/api/admin/providers/{provider}/availability", json={"rules": rules}, headers=admin
    )
    service = httpx.post(
        f"{url}/api/admin/services",
        json={"name": "Paid", "duration_minutes": 30, "provider_ids": [provider],
              "price": {"amount_cents": 9000, "currency": "GBP"}, "prepay": True},
        headers=admin,
    )  # fmt: skip
    assert service.status_code == 201, service.text
    return str(provider), str(service.json()["id"])


@pytest.mark.timeout(300)
def test_a_refund_job_killed_after_stripe_answered_refunds_once(
    settings: Settings, queue: Server, stripe_api: StripeApi
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stripe_api.webhook_url, stripe_api.webhook_secret = f"{url}/webhooks/stripe", WHSEC
    env = settings_env(settings)
    env.update(
        HOLDFAST_QUEUE_REDIS_URL=redis_url(queue.port),
        HOLDFAST_PUBLIC_URL=url,
        HOLDFAST_PROMOTER_TICK_SECONDS="0.2",
        HOLDFAST_JOB_LEASE_SECONDS="4",  # the killed worker's job comes back within seconds
        HOLDFAST_STRIPE_SECRET_KEY="sk_test_killed",
        HOLDFAST_STRIPE_WEBHOOK_SECRET=WHSEC,
        HOLDFAST_STRIPE_API_URL=stripe_api.url,
    )
    create_admin(env)
    with ExitStack() as stack:
        stack.enter_context(api_process(env, port))
        stack.enter_context(holdfast_process(env, "promoter"))
        worker = stack.enter_context(holdfast_process(env, "worker"))
        admin = login(url, "admin@example.com", "admin password")
        provider, service = prepaid_service(url, admin)
        me = register_sync(url, "client@example.com")
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        start = datetime.combine(tomorrow, datetime.min.time(), UTC) + timedelta(hours=12)
        body = {"service_id": service, "provider_id": provider, "start": start.isoformat()}
        held = httpx.post(f"{url}/api/bookings", json=body, headers=me, timeout=10)
        assert held.status_code == 201, held.text
        stripe_api.choose(held.json()["payment"]["checkout_url"].rsplit("/", 1)[1], "pay")

        def payment() -> dict[str, Any]:
            [found] = httpx.get(f"{url}/api/payments", headers=me, timeout=5).json()
            return dict(found)

        wait_until(lambda: payment()["status"] == "paid", 60, "the payment confirmed")

        # Stripe makes the refund and answers; the worker is stopped before it can read the
        # answer, and killed once the answer is on its way.
        killed = threading.Event()

        def stop(method: str, path: str) -> None:
            if path.startswith("/v1/refunds") and not killed.is_set():
                worker.send_signal(signal.SIGSTOP)

        def kill(method: str, path: str) -> None:
            if path.startswith("/v1/refunds") and not killed.is_set():
                worker.send_signal(signal.SIGKILL)
                killed.set()

        stripe_api.before_answer, stripe_api.after_answer = stop, kill
        asked = httpx.post(
            f"{url}/api/admin/payments/{payment()['id']}/refund", json={}, headers=admin
        )
        assert asked.status_code == 202, asked.text
        assert killed.wait(60), "the worker never asked Stripe for the refund"
        worker.wait(10)
        assert payment()["status"] == "paid"  # Stripe refunded; Holdfast has not recorded it
        stack.enter_context(holdfast_process(env, "worker"))

        wait_until(lambda: payment()["status"] == "refunded", 90, "the refund recorded")
        assert len(stripe_api.refunds) == 1
        asked_stripe = [r for r in stripe_api.requests if r == ("POST", "/v1/refunds")]
        assert len(asked_stripe) == 2  # asked again, with the same key: the same refund
        assert payment()["refunded_cents"] == 9000
