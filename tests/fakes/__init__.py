"""Real servers on loopback standing in for the outside world: SMTP and a Twilio-like SMS API."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from holdfast.embedded import free_port


@dataclass
class SmtpSink:
    """An SMTP server that accepts, refuses (451) the first `refuse` messages, or stalls."""

    refuse: int = 0
    stall_seconds: float = 0.0
    stalls_left: int = 1  # only the first conversations stall
    stalled: threading.Event = field(default_factory=threading.Event)
    received: list[bytes] = field(default_factory=list)  # as they came, parsed when asked for
    refused: int = 0
    port: int = field(default_factory=free_port)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _parsed: list[EmailMessage] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.stall_seconds and self.stalls_left:
            # Before DATA: a client killed here has sent nothing the server could deliver.
            self.stalls_left -= 1
            self.stalled.set()
            await asyncio.sleep(self.stall_seconds)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self.refused < self.refuse:
                self.refused += 1
                return "451 4.3.0 Try again later"
            content = (
                envelope.content
                if isinstance(envelope.content, bytes)
                else str(envelope.content).encode()
            )
            self.received.append(content)
            return f"250 2.0.0 Ok: queued as M{len(self.received)}"

    @property
    def messages(self) -> list[EmailMessage]:
        """What was accepted, parsed. Parsing waits until someone looks: the benchmarks share
        their process (and its GIL) with this server, and parsing every confirmation as it
        arrived stole time from the client whose latencies they measure."""
        with self._lock:
            while len(self._parsed) < len(self.received):
                raw = self.received[len(self._parsed)]
                self._parsed.append(email.message_from_bytes(raw, policy=email.policy.default))
            return list(self._parsed)

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def subjects(self) -> list[str]:
        return sorted(str(m["Subject"]).strip() for m in self.messages)


class LoopbackHttp:
    """A tiny HTTP server on a free loopback port, run in a thread; subclasses answer POSTs
    (`answer`), or any method with headers of their own (`respond`)."""

    def __init__(self) -> None:
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length", 0))
                status, body, headers = outer.respond(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if body is None:  # e.g. a 204: no body at all
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None for no body, response headers): POSTs go to `answer`."""
        if method != "POST":
            return 405, None, {}
        status, answer = self.answer(target, headers, body)
        return status, answer, {}

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """(status, JSON body or None for no body)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmsServer(LoopbackHttp):
    """A Twilio-compatible Messages endpoint: form-encoded POST in, `{"sid": …}` out; or, like
    some gateways, another success (`accepted`: a 204 with no body, a list)."""

    def __init__(
        self, fail: int = 0, accepted: tuple[int, Any] | None = None, stall_seconds: float = 0.0
    ) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.fail = fail
        self.accepted = accepted
        # The first request hangs this long before it is answered (and is not counted), as a
        # gateway that stops answering mid-send would; `stalled` is set when it starts hanging.
        self.stall_seconds = stall_seconds
        self.stalled = threading.Event()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if self.stall_seconds and not self.stalled.is_set():
            self.stalled.set()
            time.sleep(self.stall_seconds)
            return 503, {"message": "gave up"}
        if self.fail > 0:
            self.fail -= 1
            return 503, {"message": "try later"}
        self.received.append({**form, "authorization": headers.get("Authorization")})
        if self.accepted is not None:
            return self.accepted
        return 201, {"sid": f"SM{len(self.received):04d}", "status": "queued"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/2010-04-01/Accounts/AC1/Messages.json"


class CalendlyApi(LoopbackHttp):
    """Calendly's API, as far as Holdfast uses it: cancelling a scheduled event."""

    def __init__(self, fail: int = 0) -> None:
        super().__init__()
        self.cancellations: list[dict[str, Any]] = []
        self.fail = fail

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        request = json.loads(body or b"{}")
        if self.fail > 0:
            self.fail -= 1
            return 503, {"title": "Service Unavailable"}
        if not path.startswith("/scheduled_events/") or not path.endswith("/cancellation"):
            return 404, {"title": "Resource Not Found"}
        uuid = path.split("/")[2]
        if any(c["uuid"] == uuid for c in self.cancellations):
            return 403, {"title": "Permission Denied", "message": "Event is already canceled"}
        self.cancellations.append(
            {"uuid": uuid, "reason": request.get("reason"), "auth": headers.get("Authorization")}
        )
        return 201, {"resource": {"canceled_by": "Holdfast", "reason": request.get("reason")}}
