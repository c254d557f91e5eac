"""Password reset by email: asking for a link, and setting a new password with it.

Asking answers the same whatever the address (the caller learns nothing about who has an
account) and does the same work: it writes one durable job. The job, in the worker, looks the
address up and mails a link only if an account holds it. The link carries a signed token
valid for `RESET_LIFETIME` from the request, naming the account and a fingerprint of its
password hash: setting a password changes the hash, so every link issued before (this one
included) stops working. That is what makes a link single-use, with nothing stored beside it.
The new password is written conditionally on the hash the link names, and every session of
the account ends in the same update.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from beanie import PydanticObjectId
from holdfast import signing
from holdfast.accounts.credentials import check_new_password, email_key
from holdfast.accounts.models import User
from holdfast.accounts.service import end_all_sessions
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind
from holdfast.events import Event
from holdfast.jobs.models import WAITING, Job
from holdfast.jobs.registry import JobKind
from holdfast.jobs.service import hand_off_now, schedule
from holdfast.notifications.compose import message, render_text
from holdfast.notifications.delivery import send_once

RESET_LIFETIME = timedelta(minutes=30)
AUDIENCE = "holdfast-password-reset"
KIND = "accounts.password_reset"


class ResetLinkGone(DomainError):
    """The link was used (or a newer password set since), or it expired."""

    kind, code = ErrorKind.GONE, "reset_link_gone"


class ResetLinkInvalid(DomainError):
    kind, code = ErrorKind.INVALID, "invalid_reset_link"


async def request_reset(ctx: Context, *, email: str) -> None:
    """Mail a reset link to `email` if an account holds it; the same work either way.

    One job per address and minute: asking again within the minute sends no second email
    (and a flood of requests for one address mails it at most once a minute)."""
    now = ctx.now()
    key = email_key(email)
    job = await schedule(
        None,
        kind=KIND,
        subject=f"reset:{key}",
        run_at=now,
        now=now,
        payload={"email_key": key, "requested_at": now.isoformat()},
        intended=now.replace(second=0, microsecond=0),
    )
    if job.state in WAITING:  # new (not one asked for earlier this minute): run it now
        await hand_off_now(ctx, job)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def reset_token(ctx: Context, user: User, requested_at: datetime) -> str:
    """The same token for the same request (a re-run job mails the same link)."""
    claims = {
        "sub": str(user.id),
        "aud": AUDIENCE,
        "pwh": _fingerprint(user.password_hash),
        "iat": int(requested_at.timestamp()),
        "exp": int((requested_at + RESET_LIFETIME).timestamp()),
    }
    return signing.encode(claims, ctx.settings.secret_key.get_secret_value())


def reset_url(ctx: Context, token: str) -> str:
    # In the fragment: never sent to the server, so it stays out of access logs and Referers.
    return f"{ctx.settings.public_url.rstrip('/')}/reset-password#token={token}"


async def send_reset(ctx: Context, job: Job) -> None:
    """The job: mail the link, if the address is an account's (else nothing, silently)."""
    user = await User.find_one(User.email_key == job.payload["email_key"])
    if user is None:
        return
    requested_at = datetime.fromisoformat(job.payload["requested_at"])
    variables = {
        "name": user.name,
        "url": reset_url(ctx, reset_token(ctx, user, requested_at)),
        "minutes": int(RESET_LIFETIME.total_seconds() // 60),
    }
    await send_once(
        ctx,
        message(
            "email",
            user.email,
            "Reset your Holdfast password",
            render_text("password_reset.txt", variables),
            job_id=job.id,
            template="password_reset",
            now=ctx.now(),
        ),
        job.claim_token,
    )
    await ctx.events.publish(Event("message-updated"))


async def confirm_reset(ctx: Context, *, token: str, password: str) -> User:
    """Set the new password from a link; every session of the account ends."""
    secret = ctx.settings.secret_key.get_secret_value()
    try:
        claims = signing.decode(
            token, secret=secret, audience=AUDIENCE, required=["sub", "pwh"], now=ctx.now()
        )
    except signing.TokenInvalid as exc:
        if exc.expired:
            raise ResetLinkGone("This reset link has expired; please ask for a new one.") from None
        raise ResetLinkInvalid(
            "This is not a valid reset link; please use the link from the email as it is."
        ) from None
    subject = str(claims["sub"])
    user = await User.get(PydanticObjectId(subject)) if PydanticObjectId.is_valid(subject) else None
    used = ResetLinkGone(
        "This reset link has already been used (or the password was changed since); "
        "please ask for a new one."
    )
    if user is None or _fingerprint(user.password_hash) != claims["pwh"]:
        raise used
    check_new_password(password, email=user.email, name=user.name)
    changed = await end_all_sessions(
        ctx, user, {"password_hash": await ctx.passwords.hash(password)}, same_hash=True
    )
    if changed is None:  # another use of a link (or a change) won the race
        raise used
    return changed


def kinds(job_timeout: timedelta) -> list[JobKind]:
    return [JobKind(KIND, send_reset, timeout=job_timeout, backoff_base=timedelta(seconds=2))]
