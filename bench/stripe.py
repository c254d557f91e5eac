"""Holdfast Stripe webhook benchmark: `POST /webhooks/stripe` acknowledgement latency at a fixed
rate, next to the bare app doing only the one journaled insert the acknowledgement waits for.

Run from the repository root:  .venv/bin/python -P bench/stripe.py [--smoke]
Everything as bench/webhooks.py does it (its own mongod and redis-servers, the API as a real
process with a Stripe webhook secret, the bare app under uvicorn, open-loop at 200/s, untimed
settling, then rounds timing the webhook and its floor back to back, taking turns to go first,
each after a quiet-machine wait), with signed `checkout.session.completed`
events, each under a new event id. Prints a Markdown table and writes it to
bench/stripe_results.md; `--smoke` runs it at tiny sizes in seconds. See bench/README.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# bench.* lives in the repository, which `-P` keeps off sys.path; appended, so that installed
# modules (the standard library's `platform`, say) keep precedence.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from holdfast.inbox.models import Delivery as InboxDelivery
from holdfast.inbox.signature import sign
from holdfast.payments.handlers import SOURCE
from holdfast.payments.stripe.api import API_VERSION
from pydantic import SecretStr

from bench.cache import Platform
from bench.jobs import Report
from bench.webhooks import Delivery, Hook, Sizes, main, stored_once

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "stripe_results.md"
SECRET = "whsec_bench_stripe"


def checkout_completed(event_id: str) -> dict[str, Any]:
    """A `checkout.session.completed` event in Stripe's shape. Nothing processes it here (no
    worker runs): the acknowledgement verifies, stores and answers without looking further."""
    return {
        "id": f"evt_{event_id}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "type": "checkout.session.completed",
        "livemode": False,
        "data": {
            "object": {
                "id": f"cs_test_{event_id}",
                "object": "checkout.session",
                "status": "complete",
                "payment_status": "paid",
                "amount_total": 9000,
                "currency": "gbp",
                "payment_intent": f"pi_{event_id}",
                "metadata": {"booking_id": "000000000000000000000000"},
            }
        },
    }


def deliveries(prefix: str, count: int) -> list[Delivery]:
    """`count` events signed as Stripe signs them (`t` is now: the API allows 300 s)."""
    timestamp, made = int(time.time()), []
    for i in range(count):
        raw = json.dumps(checkout_completed(f"{prefix}{i:06d}")).encode()
        header = f"t={timestamp},v1={sign(SECRET, timestamp, raw)}"
        made.append(Delivery(raw, {"Content-Type": "application/json", "Stripe-Signature": header}))
    return made


async def stored(running: Platform, report: Report, sizes: Sizes) -> None:
    from holdfast.inbox import service as inbox

    await stored_once(
        running, report, sizes, collection="inbox", where={"source": SOURCE},
        promote=inbox.enqueue_received, kind=inbox.job_kind(SOURCE),
    )  # fmt: skip


STRIPE_HOOK = Hook(
    path="/webhooks/stripe",
    what="signed `checkout.session.completed`, new event id each",
    title="Holdfast Stripe webhook benchmark",
    deliveries=deliveries,
    stored=stored,
    indexes=lambda: list(InboxDelivery.Settings.indexes),
)


def run(argv: Sequence[str] | None = None) -> int:
    return main(argv, __doc__, RESULTS, STRIPE_HOOK, stripe_webhook_secret=SecretStr(SECRET))


if __name__ == "__main__":
    sys.exit(run())
