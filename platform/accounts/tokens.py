"""Login tokens: a signed JWT carried as a Bearer token or in the session cookie."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import jwt
from holdfast.errors import Unauthorized

AUDIENCE = "holdfast-session"
ALGORITHM = "HS256"


def issue_session_token(
    *, user_id: str, secret: str, now: datetime, lifetime: timedelta, role: str = "client"
) -> str:
    claims = {
        "sub": user_id,
        # Only for keying cached responses; authorisation always reads the role from MongoDB.
        "role": role,
        "aud": AUDIENCE,
        "sid": secrets.token_urlsafe(12),
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def peek_session_token(token: str, *, secret: str, now: datetime) -> tuple[str, str] | None:
    """(user id, role) from a valid token without touching the database, else None."""
    try:
        user_id = read_session_token(token, secret=secret, now=now)
        role = jwt.decode(token, options={"verify_signature": False}).get("role", "client")
    except Unauthorized:
        return None
    return user_id, str(role)


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
