"""Cached responses in the cache Redis, invalidated by generation counters.

An entry records the generations of the counters it depends on, read *before* the response
was computed; it is served only while they are unchanged. Invalidation increments a counter or
two, so it costs the same whether 10 or 100,000 responses are cached (no SCAN, no KEYS).

Counters that are missing (Redis flushed, or evicted under `allkeys-lru`) are started at a
random value, both when read and when bumped (`_BUMP`, one atomic script), so an old entry can
never match a counter that came back at the same value.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from holdfast.cache.rules import CacheRule
from holdfast.events import Event
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

CACHE_EVENTS = Counter("holdfast_cache_total", "Response cache outcomes", ["rule", "outcome"])
ALL, EVERY = "all", "*"
EPOCH = "hf:gen:epoch"  # every entry depends on it: one bump forgets the whole cache
EPOCH_RETRY_SECONDS = 0.2
MAX_BODY = 1024 * 1024
# INCR each counter, except that a missing one starts at the random value given for it: a plain
# INCR would bring an evicted counter back at 1 every time, and an entry tagged with 1 after the
# first eviction would be current again after the second. One script, so no reader sees the
# counter missing between the check and the write.
_BUMP = """
for i, key in ipairs(KEYS) do
  if not redis.call('SET', key, ARGV[i], 'NX') then
    redis.call('INCR', key)
  end
end
return #KEYS
"""


@dataclass(frozen=True, slots=True)
class Lookup:
    key: str
    counters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cached:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()  # those in KEPT_HEADERS


# Headers that are part of the answer, kept with the body: a page served from the cache
# without its Link would look like the last page.
KEPT_HEADERS = (b"link", b"x-next-cursor")


class CacheUnavailable(Exception):
    """The cache Redis failed or is in its cool-down; the caller serves from MongoDB."""


class ResponseCache:
    def __init__(
        self, redis: Redis, rules: tuple[CacheRule, ...], *, cooldown_seconds: float = 5.0
    ) -> None:
        self.redis = redis
        self.rules = rules
        self.cooldown_seconds = cooldown_seconds
        self._bump: AsyncScript | None = None  # registered on first use
        self._down_until = 0.0
        # Set while an invalidation could not be made: until the epoch bump lands, nothing
        # cached may be trusted, by this process or (once the bump lands) by any other.
        self._repair: asyncio.Task[None] | None = None

    # --- the circuit breaker: a failing Redis is left alone for a few seconds -----------------

    def available(self) -> bool:
        return self._repair is None and time.monotonic() >= self._down_until

    def _failed(self, exc: Exception, rule: str) -> CacheUnavailable:
        if self.available():
            log.warning("cache.bypassed", error=str(exc)[:200], retry_in_s=self.cooldown_seconds)
        self._down_until = time.monotonic() + self.cooldown_seconds
        CACHE_EVENTS.labels(rule, "bypass").inc()
        return CacheUnavailable(str(exc))

    # --- keys -------------------------------------------------------------------------------

    @staticmethod
    def lookup_for(rule: CacheRule, material: Iterable[str], scope_value: str | None) -> Lookup:
        digest = hashlib.sha256("\x1f".join(material).encode()).hexdigest()[:32]
        counters = [EPOCH, f"hf:gen:{rule.name}:{ALL}"]
        if rule.scope:
            counters.append(f"hf:gen:{rule.name}:{rule.scope}:{scope_value or EVERY}")
        return Lookup(key=f"hf:c:{rule.name}:{digest}", counters=tuple(counters))

    # --- read and write ---------------------------------------------------------------------

    async def get(self, rule: CacheRule, lookup: Lookup) -> tuple[Cached | None, list[int]]:
        """The cached response if still current, and the generations to tag a new one with."""
        if not self.available():
            CACHE_EVENTS.labels(rule.name, "bypass").inc()
            raise CacheUnavailable("cooling down")
        try:
            *raw_gens, raw_entry = await self.redis.mget([*lookup.counters, lookup.key])
            gens = [int(g) if g is not None else None for g in raw_gens]
            if None in gens:
                gens = await self._start_counters(lookup.counters, gens)
        except (RedisError, OSError) as exc:
            raise self._failed(exc, rule.name) from None
        current = [int(g) for g in gens if g is not None]
        if raw_entry is not None:
            entry = json.loads(raw_entry)
            if entry["g"] == current:
                CACHE_EVENTS.labels(rule.name, "hit").inc()
                headers = tuple((name, value) for name, value in entry.get("h", []))
                body = entry["b"].encode("latin-1")
                return Cached(entry["s"], entry["t"], body, headers), current
        CACHE_EVENTS.labels(rule.name, "miss").inc()
        return None, current

    async def _start_counters(
        self, counters: tuple[str, ...], gens: list[int | None]
    ) -> list[int | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for counter, gen in zip(counters, gens, strict=True):
                if gen is None:
                    pipe.set(counter, secrets.randbits(62), nx=True)
            await pipe.execute()
        return [int(g) if g is not None else None for g in await self.redis.mget(list(counters))]

    async def put(self, rule: CacheRule, lookup: Lookup, gens: list[int], response: Cached) -> None:
        if len(response.body) > MAX_BODY:
            return
        entry = {
            "g": gens,
            "s": response.status,
            "t": response.content_type,
            "b": response.body.decode("latin-1"),
            "h": response.headers,
        }
        try:
            await self.redis.set(lookup.key, json.dumps(entry, separators=(",", ":")), ex=rule.ttl)
        except (RedisError, OSError) as exc:
            raise self._failed(exc, rule.name) from None

    # --- invalidation -----------------------------------------------------------------------

    def counters_for(self, event: Event) -> list[tuple[str, str]]:
        """(rule, counter) pairs an event bumps: scoped where it names the rule's subject."""
        bumps: list[tuple[str, str]] = []
        for rule in self.rules:
            if event.name not in rule.invalidate_on:
                continue
            value = event.subjects.get(rule.scope) if rule.scope else None
            if rule.scope and value:
                bumps.append((rule.name, f"hf:gen:{rule.name}:{rule.scope}:{value}"))
                bumps.append((rule.name, f"hf:gen:{rule.name}:{rule.scope}:{EVERY}"))
            else:
                bumps.append((rule.name, f"hf:gen:{rule.name}:{ALL}"))
        return bumps

    async def invalidate(self, event: Event) -> None:
        bumps = self.counters_for(event)
        if not bumps:
            return
        try:
            await self.bump([counter for _, counter in bumps])
        except (RedisError, OSError) as exc:
            # The write stands; the epoch bump makes sure nothing it changed is served stale.
            if self._repair is None:
                self._repair = asyncio.get_running_loop().create_task(self._bump_epoch())
            self._failed(exc, "invalidate")
            return
        for rule, _ in bumps:
            CACHE_EVENTS.labels(rule, "invalidation").inc()

    async def bump(self, counters: list[str]) -> None:
        """Increment the counters; a missing one starts at a fresh random value instead."""
        if self._bump is None:
            self._bump = self.redis.register_script(_BUMP)
        await self._bump(keys=counters, args=[secrets.randbits(62) for _ in counters])

    async def _bump_epoch(self) -> None:
        """Retry until the cache Redis takes the bump that makes every older entry stale."""
        while True:
            try:
                await self.bump([EPOCH])
            except (RedisError, OSError):
                await asyncio.sleep(EPOCH_RETRY_SECONDS)
                continue
            log.info("cache.epoch_bumped")
            self._repair = None
            return


def cached_from(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Cached | None:
    """Only a 200 without Set-Cookie is worth keeping."""
    names = {name.lower(): value for name, value in headers}
    if status != 200 or b"set-cookie" in names:
        return None
    content_type = names.get(b"content-type", b"application/json").decode("latin-1")
    kept = tuple(
        (name.decode("latin-1"), names[name].decode("latin-1"))
        for name in KEPT_HEADERS
        if name in names
    )
    return Cached(status, content_type, body, kept)


def as_headers(cached: Cached, outcome: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", cached.content_type.encode("latin-1")),
        (b"content-length", str(len(cached.body)).encode()),
        (b"x-cache", outcome.encode()),
        *((name.encode("latin-1"), value.encode("latin-1")) for name, value in cached.headers),
    ]
