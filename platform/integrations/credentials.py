"""Tokens at rest: refresh and access tokens are sealed with a key derived from the secret key.

A copy of the database (a backup, a dump handed to support) then holds no usable Google or Zoom
credential without `HOLDFAST_SECRET_KEY`. Fernet (AES-128-CBC with an HMAC-SHA256) authenticates
what it decrypts, so a tampered token is refused, never used. The key is derived with HKDF under
its own label, so it is never the key that signs sessions and links.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

_LABEL = b"holdfast integrations: tokens at rest v1"


class SealBroken(Exception):
    """A sealed value that this secret key did not seal (another key, or tampered with)."""


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str, secret: SecretStr) -> str:
    return _fernet(secret.get_secret_value()).encrypt(value.encode()).decode()


def unseal(sealed: str, secret: SecretStr) -> str:
    try:
        return _fernet(secret.get_secret_value()).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealBroken("a stored token was sealed with another secret key") from None
