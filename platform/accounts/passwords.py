"""Password hashing with argon2id, bounded.

Each hash or check takes about 0.1 s of CPU and 64 MiB. Unbounded, a burst of registrations
fills every thread, grows memory by hundreds of MiB and queues every login behind it; so the
work runs in two lanes with a fixed number of places each: new hashes (registration, password
change, admin reset) and checks (login, password change). A flood of one cannot delay the other
beyond one hash at a time, and memory stays under (NEW_LANE + CHECK_LANE) x 64 MiB.

A login for an email nobody registered checks the password against a hash of a random password,
so it costs the same as a wrong password for a real account: timing does not tell which
emails exist.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter, Gauge

NEW_LANE = 1
CHECK_LANE = 2

WORK = Counter("holdfast_password_work_total", "argon2 hashes and checks run", ["work"])
WAITING = Gauge("holdfast_password_work_waiting", "argon2 work waiting for a place", ["work"])


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._new = asyncio.Semaphore(NEW_LANE)
        self._check = asyncio.Semaphore(CHECK_LANE)
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        hashed: str = await self._run(self._new, "hash", self._hasher.hash, password)
        return hashed

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; with no hash (no such account), the same work, False."""
        decoy = password_hash is None
        if password_hash is None:
            password_hash = await self._decoy_hash()
        try:
            matched = await self._run(
                self._check, "check", self._hasher.verify, password_hash, password
            )
        except (VerificationError, InvalidHashError):
            return False
        return bool(matched) and not decoy

    @staticmethod
    async def _run(lane: asyncio.Semaphore, work: str, fn: Callable[..., Any], *args: str) -> Any:
        WAITING.labels(work).inc()
        try:
            await lane.acquire()
        finally:
            WAITING.labels(work).dec()
        WORK.labels(work).inc()
        # argon2 is deliberately slow: off the event loop. The place is given back when the
        # thread is done, even if the request that asked is cancelled meanwhile (a client
        # that hangs up must not let more hashes run at once than the lane allows).
        running = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        running.add_done_callback(lambda _: lane.release())
        return await asyncio.shield(running)

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(24))
        return self._decoy
