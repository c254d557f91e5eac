"""The "Book now" scheduling token: a short-lived signed JWT carried to Calendly in
`utm_content` and back in the webhook. Its `jti` is stored in MongoDB and consumed once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from holdfast import signing

AUDIENCE = "holdfast-calendly"


class TokenRejected(Exception):
    """Why a token does not bind a booking: recorded as the rejection reason."""


@dataclass(frozen=True, slots=True)
class SchedulingClaims:
    jti: str
    user_id: str
    service_id: str
    session: str
    expires_at: datetime


def issue(
    *, secret: str, user_id: str, service_id: str, session: str, now: datetime, lifetime: timedelta
) -> tuple[str, SchedulingClaims]:
    claims = SchedulingClaims(
        secrets.token_urlsafe(16), user_id, service_id, session, now + lifetime
    )
    token = signing.encode(
        {
            "sub": user_id,
            "jti": claims.jti,
            "sid": session,
            "svc": service_id,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        },
        secret,
    )
    return token, claims


def read(token: str | None, *, secret: str, now: datetime) -> SchedulingClaims:
    if not token:
        raise TokenRejected("no scheduling token: booked outside Holdfast")
    try:
        claims = signing.decode(
            token, secret=secret, audience=AUDIENCE, required=["sub", "jti"], now=now
        )
    except signing.TokenInvalid as exc:
        if exc.expired:
            raise TokenRejected("expired scheduling token") from None
        raise TokenRejected(f"invalid scheduling token ({exc})") from None
    return SchedulingClaims(
        str(claims["jti"]),
        str(claims["sub"]),
        str(claims.get("svc", "")),
        str(claims.get("sid", "")),
        datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo),
    )
