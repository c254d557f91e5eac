"""SMTP connections kept open between messages, a few per process.

Opening a connection per message (TCP, EHLO, and QUIT afterwards) costs more round trips than
the message itself; a worker sending a confirmation per booking pays that on every one. A
connection is taken for one message at a time; one that failed in any way (or was cut off by
the send's time limit mid-conversation) is closed, never reused. One idle for longer than most
servers keep it is closed before use; a reused one the server has dropped meanwhile is replaced
once, before anything was sent on it.
"""

from __future__ import annotations

import asyncio
import time
from email.message import Message as EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

MAX_CONNECTIONS = 4
MAX_IDLE_SECONDS = 30.0


class SmtpPool:
    def __init__(self, url: str, *, local_hostname: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._options = {
            "hostname": parts.hostname,
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtps",
            # Our own name for EHLO: aiosmtplib would otherwise look up this host's FQDN in a
            # thread (a DNS query where there is a resolver).
            "local_hostname": local_hostname,
            # STARTTLS when the server offers it, except on loopback (a local relay or a sink).
            "start_tls": False
            if parts.scheme == "smtp" and parts.hostname in ("127.0.0.1", "localhost")
            else None,
            "timeout": timeout,
        }
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def send(self, email: EmailMessage) -> tuple[dict[str, object], str]:
        """Send one message: (recipients refused, the server's reply). Raises aiosmtplib's
        errors and OSError as `aiosmtplib.send` does."""
        async with self._slots:
            client, reused = await self._take()
            try:
                try:
                    errors, reply = await client.send_message(email)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # Dropped by the server while idle, before this message's first command.
                    client.close()
                    client, reused = await self._open(), False
                    errors, reply = await client.send_message(email)
            except BaseException:
                client.close()
                raise
            self._idle.append((time.monotonic(), client))
            return dict(errors), reply

    async def _take(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            since, client = self._idle.pop()
            if client.is_connected and time.monotonic() - since < MAX_IDLE_SECONDS:
                return client, True
            client.close()
        return await self._open(), False

    async def _open(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
        await client.connect()
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, client in idle:
            try:
                await asyncio.wait_for(client.quit(), 2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
