"""The real `holdfast api` process at its edges: forwarded addresses are believed only from
configured proxies, and clients too slow to send a request are cut off."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import httpx
from holdfast.settings import Settings

from tests.support import api_process, settings_env


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(settings: Settings) -> None:
    env = {**settings_env(settings), "HOLDFAST_RATE_LIMIT_REQUESTS": "10"}

    def spoofed_burst(url: str) -> list[int]:
        # 25 requests over at most two rate-limit windows: one of them sees 13 or more.
        return [
            httpx.get(
                f"{url}/api/providers", headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=10
            ).status_code
            for i in range(25)
        ]

    with api_process(env) as url:
        # Nobody is trusted: the claimed addresses are ignored, and this one client is limited.
        assert 429 in spoofed_burst(url)
    with api_process({**env, "HOLDFAST_TRUSTED_PROXIES": "127.0.0.1"}) as url:
        # Behind a configured proxy (here: us, on loopback) each forwarded client counts alone.
        assert set(spoofed_burst(url)) == {200}


def read_until_closed(sock: socket.socket, deadline: float, drip: bytes = b"") -> bytes | None:
    """Everything the server sends until it closes the connection, dripping `drip` one byte
    at a time meanwhile; None if it is still open at `deadline`."""
    received = b""
    pending = iter(drip)
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
            continue
        byte = next(pending, None)
        if byte is not None:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return received
    return None


def test_slow_clients_are_cut_off(settings: Settings) -> None:
    env = {**settings_env(settings), "HOLDFAST_READ_TIMEOUT_SECONDS": "1"}
    with api_process(env) as url:
        address = urlsplit(url)
        where = (address.hostname or "127.0.0.1", address.port or 80)
        slow_headers = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400
        body_never_sent = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n{"
        )
        cases = {
            "silent": (b"", b""),  # connects and sends nothing
            "dripped headers": (b"", slow_headers),  # one byte every 0.2 s, never finished
            "body never sent": (body_never_sent, b""),
        }
        answers = {}
        for name, (sent, drip) in cases.items():
            with socket.create_connection(where, timeout=5) as sock:
                sock.sendall(sent)
                answers[name] = read_until_closed(sock, time.monotonic() + 30, drip)
        still_open = [name for name, answer in answers.items() if answer is None]
        assert not still_open, f"still open after 30 s: {still_open}"
        for name in ("dripped headers", "body never sent"):
            assert (answers[name] or b"").startswith(b"HTTP/1.1 408"), (name, answers[name])
            assert b'"error":"request_timeout"' in (answers[name] or b""), name
        # A client that sends its request in time is served as before.
        assert httpx.get(f"{url}/health/live", timeout=10).status_code == 200
        booked = httpx.post(
            f"{url}/api/auth/login", json={"email": "a@example.com", "password": "x"}, timeout=10
        )
        assert booked.status_code == 401
