"""Calendly's webhook signature: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>`, where v1 is
HMAC-SHA256 with the signing key over "<t>.<raw body>". Pure: key, header, body and now in."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from holdfast.errors import DomainError, ErrorKind

TOLERANCE_SECONDS = 180


class SignatureInvalid(DomainError):
    kind, code = ErrorKind.FORBIDDEN, "invalid_signature"


def sign(key: str, timestamp: int, body: bytes) -> str:
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise SignatureInvalid("The signature header is malformed.")
        if name == "t":
            # ASCII digits only: "²".isdigit() is true, but int("²") fails.
            if not (value.isascii() and value.isdigit()) or timestamp is not None:
                raise SignatureInvalid("The signature timestamp is malformed.")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureInvalid("The signature header needs t= and at least one v1=.")
    return timestamp, signatures


def verify(
    key: str,
    header: str | None,
    body: bytes,
    now: datetime,
    *,
    named: str = "Calendly-Webhook-Signature",
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise `SignatureInvalid` (403) unless a v1 matches and t is within `tolerance` seconds
    (Stripe signs the same way: `holdfast.payments` verifies with this too)."""
    if not header:
        raise SignatureInvalid(f"The {named} header is missing.")
    timestamp, signatures = _parse(header)
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureInvalid("The signature timestamp is too old or in the future.")
    expected = sign(key, timestamp, body)
    # Every candidate is compared in constant time; any match will do (Calendly rotates keys).
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureInvalid("The signature does not match the body.")
