"""Sending one tracked message: SMTP for email, a Twilio-compatible HTTP API for SMS, or the
outbox when no provider is configured. A message already sent is never sent again.

Before anything is sent, the message is claimed for the job claim that sends it (stored as
`sending`, or moved there from queued/failed by a conditional update): a second worker that got
the same job (its first worker's lease looked over) finds it claimed and leaves it alone. The
claim lasts the send's own limit plus a job lease (for clocks that differ); one still `sending`
after that belonged to a worker that died mid-send, and the job's next attempt sends it again.
The provider may have accepted it just before that worker died: that narrow window is the one
place a message can go twice (the email's stable Message-ID lets a mail system drop the copy).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import ssl
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message as EmailMessageBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

import aiosmtplib
import httpx
from holdfast.context import Context
from holdfast.notifications.models import Message
from holdfast.settings import Settings
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError


class DeliveryFailed(Exception):
    """The provider refused or could not be reached; the job retries."""


def _email(ctx: Context, message: Message) -> EmailMessageBase:
    """The email as MIME parts. Python's `email.mime` classes (the compat32 policy) build it
    about four times faster than `EmailMessage`'s header registry, on the worker's hot path;
    they still refuse a header value with an embedded line break, and non-ASCII names and
    subjects are encoded (RFC 2047)."""
    text = MIMEText(message.body, "plain", "utf-8")
    email: EmailMessageBase = text
    if message.ics:
        # A boundary of our own. Left to the generator, each email compiled a regular expression
        # from a fresh random boundary to prove it absent from the parts: a third of the time
        # spent flattening the email. Both parts are base64 (UTF-8 text), and base64 never
        # holds an underscore.
        email = MIMEMultipart(boundary=f"=_holdfast_{secrets.token_hex(12)}")
        invite = MIMEText(message.ics, "calendar", "utf-8")
        # The MIME part names the iTIP method the file carries (REQUEST, or CANCEL).
        invite.set_param("method", "CANCEL" if "METHOD:CANCEL" in message.ics else "REQUEST")
        invite.add_header("Content-Disposition", "attachment", filename="invite.ics")
        for part in (text, invite):
            del part["MIME-Version"]  # the message's own header, not its parts' (RFC 2045)
            email.attach(part)
    email["From"] = formataddr(parseaddr(ctx.settings.mail_from), charset="utf-8")
    email["To"] = message.to
    subject = message.subject
    email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    # A stable Message-ID lets a receiving system spot a duplicate should one ever slip through.
    email["Message-ID"] = make_msgid(idstring=message.id.replace("/", ".")[:60], domain="holdfast")
    return email


async def _send_email(ctx: Context, message: Message) -> str:
    if ctx.smtp is None:  # `_configured` sends email only when SMTP is
        raise DeliveryFailed("SMTP is not configured")
    try:
        errors, reply = await ctx.smtp.send(_email(ctx, message))
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP: {exc}") from exc
    if errors:
        raise DeliveryFailed(f"SMTP refused {', '.join(errors)}")
    return reply


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process for the SMS gateway's clients: building one loads the CA
    bundle, tens of milliseconds of CPU that every SMS paid for, on the waitlist's way from a
    freed slot to its offer, when each made its own."""
    return httpx.create_ssl_context()


async def _send_sms(ctx: Context, message: Message) -> str:
    token = ctx.settings.sms_token.get_secret_value() if ctx.settings.sms_token else ""
    auth: Any = tuple(token.split(":", 1)) if ":" in token else None
    headers = {} if auth or not token else {"Authorization": f"Bearer {token}"}
    form = {"To": message.to, "From": ctx.settings.sms_from, "Body": message.body}
    try:
        async with httpx.AsyncClient(
            timeout=ctx.settings.send_timeout_seconds, verify=_tls()
        ) as http:
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


def sending_lease(settings: Settings) -> timedelta:
    """How long a claim to send holds: the send is cut off after `send_timeout_seconds` by the
    sender's clock, and a job lease on top covers a reader whose clock is ahead."""
    return timedelta(seconds=settings.send_timeout_seconds + settings.job_lease_seconds)


async def send_once(ctx: Context, outgoing: Message, claim: str | None) -> None:
    """Store the message and send it, unless it already went, for the job claim `claim`.
    Raises `DeliveryFailed` so that the job retries with backoff: when the provider refused,
    and when another worker is sending this message right now."""
    now = ctx.now()
    configured = _configured(ctx, outgoing)
    message = await _take(outgoing, claim, now, now + sending_lease(ctx.settings), configured)
    if message is None or not configured:
        return
    send = _send_email if message.channel == "email" else _send_sms
    try:
        async with asyncio.timeout(ctx.settings.send_timeout_seconds):
            provider_id = await send(ctx, message)
    except (DeliveryFailed, TimeoutError) as exc:
        error = str(exc) or f"{message.channel}: no answer in {ctx.settings.send_timeout_seconds} s"
        await Message.get_pymongo_collection().update_one(
            {"_id": message.id, "status": "sending", "sending_by": claim},
            {
                "$set": {
                    "status": "failed",
                    "last_error": error[:500],
                    "sending_by": None,
                    "sending_until": None,
                    "updated_at": ctx.now(),
                },
                "$inc": {"attempts": 1},
            },
        )
        raise DeliveryFailed(error) from exc
    # Shielded: once the provider has accepted, a cancellation must not stop us recording it.
    await asyncio.shield(_mark_sent(message.id, provider_id, ctx.now()))


async def _take(
    outgoing: Message, claim: str | None, now: datetime, until: datetime, configured: bool
) -> Message | None:
    """The message claimed for sending (or put in the outbox), or None if it already went."""
    claimed: dict[str, Any] = (
        {"status": "sending", "sending_by": claim, "sending_until": until}
        if configured
        else {"status": "outbox"}
    )
    for field, value in claimed.items():
        setattr(outgoing, field, value)
    collection = Message.get_pymongo_collection()
    try:
        # The usual case, a first run: stored already claimed, in one write (straight through
        # PyMongo: Beanie's insert adds its event hooks and state tracking, unused here).
        await collection.insert_one(outgoing.model_dump(by_alias=True))
        return outgoing
    except DuplicateKeyError:
        pass
    taken = await collection.find_one_and_update(
        {
            "_id": outgoing.id,
            "$or": [
                {"status": {"$in": ["queued", "failed"]}},
                {"status": "sending", "sending_until": {"$lt": now}},  # its worker died
            ],
        },
        {"$set": {**claimed, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if taken is not None:
        message: Message = Message.model_validate(taken)
        return message
    stored = await Message.get(outgoing.id)  # only to say why not
    if stored is None or stored.status in ("sent", "outbox"):
        return None
    raise DeliveryFailed(
        f"{stored.channel} to {stored.to} is being sent by another worker "
        f"(until {stored.sending_until})"
    )


async def _mark_sent(message_id: str, provider_id: str, now: datetime) -> None:
    await Message.get_pymongo_collection().update_one(
        {"_id": message_id},
        {
            "$set": {
                "status": "sent",
                "provider_message_id": provider_id,
                "sent_at": now,
                "updated_at": now,
                "last_error": None,
                "sending_by": None,
                "sending_until": None,
            },
            "$inc": {"attempts": 1},
        },
    )
