"""Calendly's webhook signature: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>`, verified by
the scheme every such sender uses (`holdfast.inbox.signature`), with Calendly's tolerance."""

from __future__ import annotations

from datetime import datetime

from holdfast.inbox.signature import SignatureInvalid, sign
from holdfast.inbox.signature import verify as verify_signed

__all__ = ["TOLERANCE_SECONDS", "SignatureInvalid", "sign", "verify"]

TOLERANCE_SECONDS = 180


def verify(key: str, header: str | None, body: bytes, now: datetime) -> None:
    verify_signed(
        key, header, body, now, named="Calendly-Webhook-Signature", tolerance=TOLERANCE_SECONDS
    )
