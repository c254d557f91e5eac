"""Login tokens: a signed JWT carried as a Bearer token or in the session cookie."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from holdfast import signing
from holdfast.errors import Unauthorized

AUDIENCE = "holdfast-session"


def issue_session_token(
    *,
    user_id: str,
    secret: str,
    now: datetime,
    lifetime: timedelta,
    role: str = "client",
    version: int = 0,
) -> str:
    claims = {
        "sub": user_id,
        # Informational only: authorisation and cache keys read the role from MongoDB.
        "role": role,
        "aud": AUDIENCE,
        "sid": secrets.token_urlsafe(12),
        # The account's session version when issued: a password change or an admin reset
        # increments it, which ends every token issued before.
        "ver": version,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return signing.encode(claims, secret)


class Caller(NamedTuple):
    """What a valid login token says, read without the database."""

    user_id: str
    role: str  # informational; authorisation reads the role from MongoDB
    session: str  # the login session: Book now links are bound to it, logout revokes it
    version: int = 0  # the account's session version the token was issued under
    expires: int = 0  # unix time the token stops being valid by itself


def read_session_token(token: str, *, secret: str, now: datetime) -> Caller:
    """The caller a valid token names, or `Unauthorized` saying why it is refused."""
    try:
        claims = signing.decode(token, secret=secret, audience=AUDIENCE, required=["sub"], now=now)
    except signing.TokenInvalid as exc:
        if exc.expired:
            raise Unauthorized("Your session has expired; please log in again.") from None
        raise Unauthorized("Your session is not valid; please log in again.") from None
    return Caller(
        str(claims["sub"]),
        str(claims.get("role", "client")),
        str(claims.get("sid", "")),
        int(claims.get("ver", 0)),
        int(claims.get("exp", 0)),
    )
