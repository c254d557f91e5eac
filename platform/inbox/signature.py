"""Webhook signatures of the form `t=<unix>,v1=<hex>[,v1=<hex>...]`, where v1 is HMAC-SHA256
with the signing key over "<t>.<raw body>": Calendly (`Calendly-Webhook-Signature`) and Stripe
(`Stripe-Signature`) both sign this way. Pure: key, header, body and now in."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from holdfast.errors import DomainError, ErrorKind


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
    named: str,
    tolerance: int,
) -> None:
    """Raise `SignatureInvalid` (403) unless a v1 matches and t is within `tolerance` seconds
    of now; `named` is the header, for the error's sentence."""
    if not header:
        raise SignatureInvalid(f"The {named} header is missing.")
    timestamp, signatures = _parse(header)
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureInvalid("The signature timestamp is too old or in the future.")
    expected = sign(key, timestamp, body)
    # Every candidate is compared in constant time; any match will do (senders rotate keys).
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureInvalid("The signature does not match the body.")
