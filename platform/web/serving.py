"""How `holdfast api` is served by uvicorn.

Forwarded headers: uvicorn believes `X-Forwarded-For` / `-Proto` from any loopback peer by
default, so behind nothing at all a client could choose the address its rate limits are
counted under. Here they are believed only from `HOLDFAST_TRUSTED_PROXIES`, and not at all when
it is empty.

Slow clients: uvicorn has no deadline for receiving a request (a connection that sends nothing,
headers dripped a byte at a time, a body announced and never sent each hold a connection and,
for the body, a handler, for ever). Here a request must arrive whole within
`HOLDFAST_READ_TIMEOUT_SECONDS` of the connection opening or of its first byte; otherwise the
client gets `408 request_timeout` (if it sent anything) and the connection is closed. Idle
keep-alive connections are closed after `KEEP_ALIVE_SECONDS`, as uvicorn does.
"""

from __future__ import annotations

import asyncio
import functools
import json
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


class ReadDeadline:
    """One connection's deadline for the request being received."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.heard = False  # any byte of the current request arrived

    def start(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._arm()

    def data_arrived(self) -> None:
        """A request's first byte starts its deadline (after a response, none is running)."""
        self.heard = True
        if self.timer is None:
            self._arm()

    def request_complete(self) -> None:
        self.heard = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _arm(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)

    def _expire(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.heard:
            # Nothing has been answered yet: the request is still incomplete.
            transport.write(TIMEOUT_RESPONSE)
        transport.close()


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its default; installed with litestar[standard]) with a
    deadline for each request to arrive whole."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_deadline = ReadDeadline(read_timeout)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.read_deadline.start(transport)

    def data_received(self, data: bytes) -> None:
        self.read_deadline.data_arrived()
        super().data_received(data)  # calls on_message_complete once the request is whole

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.read_deadline.request_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.read_deadline.request_complete()
        super().connection_lost(exc)


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
