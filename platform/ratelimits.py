"""Rate limits with exponential backoff, kept in the cache Redis (or in this process while it is
down, so limits still apply per process).

Every client (the user a token names, else the address) may make `rate_limit_requests` per
window. A client over the limit is refused for 1 s, then 2, 4, 8 … on each further offence
(capped at 15 minutes).

Failed logins never lock an account: they are counted per (account, address) pair and per
address. After `login_failures_allowed` failures of one pair, that address waits 1 s, 2, 4 …
before its next try at that account, whatever password it brings; an address failing across
many accounts waits after four times as many. The owner, from an address that has not failed,
logs in at once. An account failing from many addresses (a distributed guess) gives each
further address one failure before it waits.

New accounts are limited per address (`registrations_per_hour`): registering costs an argon2
hash.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime

from holdfast.errors import DomainError, ErrorKind
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

LIMITED = Counter("holdfast_rate_limited_total", "Requests refused by a rate limit", ["limit"])
MAX_PENALTY = 15 * 60
# An account with this many times its allowance of failures, from all addresses together, is
# being guessed at from many: each further address gets one failure before it waits.
ATTACKED = 4
KEEP = 3600  # seconds a client's record outlives its last offence


class RateLimited(DomainError):
    kind, code = ErrorKind.RATE_LIMITED, "rate_limited"

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


def penalty(offences: int) -> int:
    """Seconds refused after the n-th offence: 1, 2, 4 … capped."""
    return min(int(2 ** max(offences - 1, 0)), MAX_PENALTY)


@dataclass
class LocalStore:
    """The same counters in this process, for while the cache Redis is unreachable."""

    values: dict[str, tuple[int, float]] = field(default_factory=dict)

    def incr(self, key: str, ttl: int) -> int:
        now = time.monotonic()
        count, expires = self.values.get(key, (0, 0.0))
        count = count + 1 if expires > now else 1
        self.values[key] = (count, now + ttl)
        if len(self.values) > 100_000:
            self.values = {k: v for k, v in self.values.items() if v[1] > now}
        return count

    def get(self, key: str) -> int:
        count, expires = self.values.get(key, (0, 0.0))
        return count if expires > time.monotonic() else 0

    def set(self, key: str, value: int, ttl: int) -> None:
        self.values[key] = (value, time.monotonic() + ttl)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class Limiter:
    def __init__(
        self,
        redis: Redis | None,
        *,
        requests: int,
        window: int,
        login_failures: int,
        registrations: int = 20,
    ) -> None:
        self.redis = redis
        self.local = LocalStore()
        self.requests, self.window, self.login_failures = requests, window, login_failures
        self.registrations = registrations

    # --- storage: Redis when it answers, this process otherwise ------------------------------

    async def _incr(self, key: str, ttl: int) -> int:
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, ttl)
                    count, _ = await pipe.execute()
                return int(count)
            except (RedisError, OSError):
                pass
        return self.local.incr(key, ttl)

    async def _get(self, key: str) -> int:
        if self.redis is not None:
            try:
                value = await self.redis.get(key)
                return int(value or 0)
            except (RedisError, OSError):
                pass
        return self.local.get(key)

    async def _set(self, key: str, value: int, ttl: int) -> None:
        self.local.set(key, value, ttl)
        if self.redis is not None:
            try:
                await self.redis.set(key, value, ex=ttl)
            except (RedisError, OSError):
                pass

    async def _delete(self, key: str) -> None:
        self.local.delete(key)
        if self.redis is not None:
            try:
                await self.redis.delete(key)
            except (RedisError, OSError):
                pass

    # --- the limits ----------------------------------------------------------------------------

    async def _refuse_if_blocked(self, name: str, subject: str, now: float, sentence: str) -> None:
        until = await self._get(f"rl:{name}:block:{subject}")
        if until > now:
            LIMITED.labels(name).inc()
            raise RateLimited(math.ceil(until - now), sentence)

    async def _offend(self, name: str, subject: str, now: float, offences: int) -> int:
        wait = penalty(offences)
        await self._set(f"rl:{name}:block:{subject}", math.ceil(now + wait), KEEP)
        return wait

    async def _blocked_and_count(self, block: str, counter: str, ttl: int) -> tuple[int, int]:
        """A block's end and the counter after one more hit: one round trip on every request."""
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.get(block)
                    pipe.incr(counter)
                    pipe.expire(counter, ttl)
                    until, count, _ = await pipe.execute()
                return int(until or 0), int(count)
            except (RedisError, OSError):
                pass
        return self.local.get(block), self.local.incr(counter, ttl)

    async def check_request(self, client: str, now: datetime) -> None:
        sentence = "Too many requests; please slow down and try again shortly."
        stamp = now.timestamp()
        window = int(stamp // self.window)
        until, count = await self._blocked_and_count(
            f"rl:requests:block:{client}", f"rl:requests:{client}:{window}", self.window * 2
        )
        if until > stamp:
            LIMITED.labels("requests").inc()
            raise RateLimited(math.ceil(until - stamp), sentence)
        if count > self.requests:
            offences = await self._incr(f"rl:requests:offences:{client}", KEEP)
            wait = await self._offend("requests", client, stamp, offences)
            LIMITED.labels("requests").inc()
            raise RateLimited(wait, sentence)

    async def check_login(self, account: str, address: str, now: datetime) -> None:
        sentence = "Too many failed logins; please wait before trying again."
        stamp = now.timestamp()
        await self._refuse_if_blocked("login", f"pair:{account}|{address}", stamp, sentence)
        await self._refuse_if_blocked("login", f"address:{address}", stamp, sentence)

    async def login_failed(self, account: str, address: str, now: datetime) -> None:
        stamp = now.timestamp()
        on_account = await self._incr(f"rl:login:failures:account:{account}", KEEP)
        under_attack = on_account > self.login_failures * ATTACKED
        # An address is allowed more failures than one pair: many people share one address.
        for subject, allowed in (
            (f"pair:{account}|{address}", 1 if under_attack else self.login_failures),
            (f"address:{address}", self.login_failures * 4),
        ):
            failures = await self._incr(f"rl:login:failures:{subject}", KEEP)
            if failures >= allowed:
                await self._offend("login", subject, stamp, failures - allowed + 1)

    async def login_succeeded(self, account: str, address: str) -> None:
        await self._delete(f"rl:login:failures:pair:{account}|{address}")

    async def check_registration(self, address: str, now: datetime) -> None:
        stamp = now.timestamp()
        hour = int(stamp // 3600)
        count = await self._incr(f"rl:register:{address}:{hour}", 7200)
        if count > self.registrations:
            LIMITED.labels("register").inc()
            raise RateLimited(
                math.ceil((hour + 1) * 3600 - stamp),
                "Too many new accounts from this address; please try again later.",
            )
