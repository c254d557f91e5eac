"""Offer links: a signed token naming the offer, so claiming from a phone needs no login. The
token is single-use through the offer's state, not through the token: once the offer has moved
on, the same link only shows what became of it."""

from __future__ import annotations

from datetime import datetime, timedelta

from holdfast import signing
from holdfast.context import Context
from holdfast.errors import NotFound

AUDIENCE = "holdfast-offer"
# A link keeps working a day past the slot's start: to say "expired" or "taken" rather than
# "not a link of ours" to someone who clicks late.
AFTERLIFE = timedelta(days=1)


def offer_token(ctx: Context, offer_id: str, start: datetime, now: datetime) -> str:
    return signing.encode(
        {
            "sub": offer_id,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((start + AFTERLIFE).timestamp()),
        },
        ctx.settings.secret_key.get_secret_value(),
    )


def offer_url(ctx: Context, token: str, action: str | None = None) -> str:
    base = f"{ctx.settings.public_url.rstrip('/')}/offers/{token}"
    return f"{base}?action={action}" if action else base


def offer_id_of(ctx: Context, token: str) -> str:
    """The offer a link names, or 404 for a link that is not ours (or long past)."""
    try:
        claims = signing.decode(
            token,
            secret=ctx.settings.secret_key.get_secret_value(),
            audience=AUDIENCE,
            required=["sub"],
            now=ctx.now(),
        )
    except signing.TokenInvalid:
        raise NotFound(
            "This offer link is not valid (or is too old).", code="offer_not_found"
        ) from None
    return str(claims["sub"])
