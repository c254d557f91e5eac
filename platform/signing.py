"""Signed tokens (HS256 JWTs) checked against the injected clock, not the machine's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt

ALGORITHM = "HS256"


class TokenInvalid(Exception):
    """Bad signature, audience or shape (`expired` False), or past its expiry (`expired` True)."""

    def __init__(self, why: str, *, expired: bool = False) -> None:
        super().__init__(why)
        self.expired = expired


def encode(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(
    token: str, *, secret: str, audience: str, required: list[str], now: datetime
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            options={
                "require": [*required, "aud", "exp", "iat"],
                "verify_exp": False,  # decided below, with `now`
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(type(exc).__name__) from None
    if int(claims["exp"]) <= int(now.timestamp()):
        raise TokenInvalid("expired", expired=True)
    return claims
