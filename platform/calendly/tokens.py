"""The "Book now" scheduling token: a short-lived signed JWT carried to Calendly in
`utm_content` and back in the webhook. Its `jti` is stored in MongoDB and consumed once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

AUDIENCE = "holdfast-calendly"
ALGORITHM = "HS256"


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
    token = jwt.encode(
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
        algorithm=ALGORITHM,
    )
    return token, claims


def read(token: str | None, *, secret: str, now: datetime) -> SchedulingClaims:
    if not token:
        raise TokenRejected("no scheduling token: booked outside Holdfast")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "require": ["sub", "jti", "aud", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"invalid scheduling token ({type(exc).__name__})") from None
    if int(claims["exp"]) <= int(now.timestamp()):
        raise TokenRejected("expired scheduling token")
    return SchedulingClaims(
        str(claims["jti"]),
        str(claims["sub"]),
        str(claims.get("svc", "")),
        str(claims.get("sid", "")),
        datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo),
    )
