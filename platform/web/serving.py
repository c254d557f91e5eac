"""How `holdfast api` is served by uvicorn.

Forwarded headers: uvicorn believes `X-Forwarded-For` / `-Proto` from any loopback peer by
default, so behind nothing at all a client could choose the address its rate limits are
counted under. Here they are believed only from `HOLDFAST_TRUSTED_PROXIES`, and not at all when
it is empty.

Slow clients: uvicorn has no deadline for receiving a request (a connection that sends nothing,
headers dripped a byte at a time, a body announced and never sent each hold a connection and,
for the body, a handler, for ever). Here a request must arrive whole within
`HOLDFAST_READ_TIMEOUT_SECONDS` of the connection opening or of its first byte; otherwise the
client gets `408 request_timeout` (if it sent anything) and the connection is closed. The
deadlines are checked once a second per process (more often for a deadline under two seconds),
so a request may have up to a second more. Idle keep-alive connections are closed after
`KEEP_ALIVE_SECONDS`, as uvicorn does.
"""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from typing import Any, cast

from holdfast.settings import Settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_SECONDS = 5
_BODY = json.dumps(
    {"error": "request_timeout", "detail": "The request did not arrive in time."},
    separators=(",", ":"),
).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class ReadDeadlines:
    """One server's connections that are waiting for a request to arrive whole, swept once
    every `interval` seconds: a request is cut off between `seconds` and `seconds + interval`
    after it began. One sweep per server costs nothing per request, where a timer per request (armed
    on its first byte, cancelled when it is whole) cost every request a heap push and a cancel."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = loop
        self.interval = min(1.0, seconds / 2)
        self.watched: set[TimedHttpToolsProtocol] = set()
        self.sweeping: asyncio.TimerHandle | None = None

    def watch(self, connection: TimedHttpToolsProtocol) -> None:
        self.watched.add(connection)
        if self.sweeping is None:
            self.sweeping = self.loop.call_later(self.interval, self.sweep)

    def forget(self, connection: TimedHttpToolsProtocol) -> None:
        self.watched.discard(connection)

    def sweep(self) -> None:
        now = self.loop.time()
        for connection in [c for c in self.watched if c.read_by is not None and c.read_by <= now]:
            connection.read_too_slow()
        self.sweeping = self.loop.call_later(self.interval, self.sweep) if self.watched else None


# One per uvicorn server (its `ServerState`, shared by its connections), gone with the server.
_DEADLINES: weakref.WeakKeyDictionary[object, ReadDeadlines] = weakref.WeakKeyDictionary()


def deadlines_of(server: object, loop: asyncio.AbstractEventLoop, seconds: float) -> ReadDeadlines:
    found = _DEADLINES.get(server)
    if found is None:
        found = _DEADLINES[server] = ReadDeadlines(loop, seconds)
    return found


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its default; installed with litestar[standard]) with a
    deadline for each request to arrive whole: from the connection opening until its first
    request begins, and from each request's first byte (the parser's `on_message_begin`) until
    it is whole (`on_message_complete`)."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self.read_by: float | None = None  # loop time by which the request must be whole
        self.heard = False  # any byte of the current request arrived
        self.deadlines = deadlines_of(self.server_state, self.loop, read_timeout)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.read_by = self.loop.time() + self.read_timeout
        self.deadlines.watch(self)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.heard = True
        self.read_by = self.loop.time() + self.read_timeout

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.heard = False
        self.read_by = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.read_by = None
        self.deadlines.forget(self)
        super().connection_lost(exc)

    def read_too_slow(self) -> None:
        self.read_by = None  # closing: `connection_lost` follows, and forgets the connection
        if self.transport.is_closing():
            return
        if self.heard:
            # Nothing has been answered yet: the request is still incomplete.
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments for the API."""
    # A partial of a module-level class: it must pickle into `--workers` processes.
    protocol = functools.partial(TimedHttpToolsProtocol, read_timeout=settings.read_timeout_seconds)
    return {
        "http": cast("type[asyncio.Protocol]", protocol),
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }
