"""Sending one tracked message: SMTP for email, a Twilio-compatible HTTP API for SMS, or the
outbox when no provider is configured. A message already sent is never sent again."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx
from holdfast.context import Context
from holdfast.notifications.models import Message

SEND_TIMEOUT = 10.0


class DeliveryFailed(Exception):
    """The provider refused or could not be reached; the job retries."""


def _email(ctx: Context, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["From"] = ctx.settings.mail_from
    email["To"] = message.to
    email["Subject"] = message.subject
    # A stable Message-ID lets a receiving system spot a duplicate should one ever slip through.
    email["Message-ID"] = make_msgid(idstring=message.id.replace("/", ".")[:60], domain="holdfast")
    email.set_content(message.body)
    if message.ics:
        email.add_attachment(
            message.ics.encode(), maintype="text", subtype="calendar", filename="invite.ics",
            params={"method": "REQUEST"},
        )  # fmt: skip
    return email


async def _send_email(ctx: Context, message: Message) -> str:
    url = urlsplit(ctx.settings.smtp_url or "")
    try:
        errors, reply = await aiosmtplib.send(
            _email(ctx, message),
            hostname=url.hostname,
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=False
            if url.scheme == "smtp" and url.hostname in ("127.0.0.1", "localhost")
            else None,
            timeout=SEND_TIMEOUT,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP: {exc}") from exc
    if errors:
        raise DeliveryFailed(f"SMTP refused {', '.join(errors)}")
    return reply


async def _send_sms(ctx: Context, message: Message) -> str:
    token = ctx.settings.sms_token.get_secret_value() if ctx.settings.sms_token else ""
    auth: Any = tuple(token.split(":", 1)) if ":" in token else None
    headers = {} if auth or not token else {"Authorization": f"Bearer {token}"}
    form = {"To": message.to, "From": ctx.settings.sms_from, "Body": message.body}
    try:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT) as http:
            response = await http.post(
                ctx.settings.sms_url or "", data=form, auth=auth, headers=headers
            )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"SMS: {exc}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"SMS: HTTP {response.status_code} {response.text[:200]}")
    return _provider_id(response)


def _provider_id(response: httpx.Response) -> str:
    """The gateway's id for an accepted SMS, if its answer names one. Any 2xx means it was
    accepted: a body we cannot read (a 204, a list) must not turn a sent SMS into a retry."""
    try:
        body = response.json()
    except ValueError:
        return ""
    sid = body.get("sid") if isinstance(body, dict) else None
    return sid if isinstance(sid, str) else ""


def _configured(ctx: Context, message: Message) -> bool:
    return bool(ctx.settings.smtp_url if message.channel == "email" else ctx.settings.sms_url)


async def deliver(ctx: Context, message: Message) -> None:
    """Send a stored message that is not sent yet. Raises `DeliveryFailed` so that the job
    retries with backoff."""
    collection = Message.get_pymongo_collection()
    now = ctx.now()
    if not _configured(ctx, message):
        await collection.update_one(
            {"_id": message.id}, {"$set": {"status": "outbox", "updated_at": now}}
        )
        return
    send = _send_email if message.channel == "email" else _send_sms
    try:
        provider_id = await send(ctx, message)
    except DeliveryFailed as exc:
        await collection.update_one(
            {"_id": message.id},
            {
                "$set": {"status": "failed", "last_error": str(exc)[:500], "updated_at": now},
                "$inc": {"attempts": 1},
            },
        )
        raise
    # Shielded: once the provider has accepted, a cancellation must not stop us recording it.
    await asyncio.shield(_mark_sent(collection, message.id, provider_id, ctx.now()))


async def _mark_sent(collection: Any, message_id: str, provider_id: str, now: datetime) -> None:
    await collection.update_one(
        {"_id": message_id},
        {
            "$set": {
                "status": "sent",
                "provider_message_id": provider_id,
                "sent_at": now,
                "updated_at": now,
                "last_error": None,
            },
            "$inc": {"attempts": 1},
        },
    )
