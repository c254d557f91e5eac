"""Login tokens: a signed JWT carried as a Bearer token or in the session cookie."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import jwt
from holdfast.errors import Unauthorized

AUDIENCE = "holdfast-session"
ALGORITHM = "HS256"


def issue_session_token(*, user_id: str, secret: str, now: datetime, lifetime: timedelta) -> str:
    claims = {
        "sub": user_id,
        "aud": AUDIENCE,
        "sid": secrets.token_urlsafe(12),
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_session_token(token: str, *, secret: str, now: datetime) -> str:
    """The user id the token names, or `Unauthorized`."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "require": ["sub", "exp", "iat", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise Unauthorized("Your session is not valid; please log in again.") from None
    # Expiry is checked against the injected clock, not the machine's.
    if int(claims["exp"]) <= int(now.timestamp()):
        raise Unauthorized("Your session has expired; please log in again.")
    return str(claims["sub"])
