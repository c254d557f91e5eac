"""Providers' Google Calendar connections: connecting (OAuth authorization code with a signed,
single-use `state`), the tokens kept sealed at rest, health (connected or failing, why and since
when), and disconnecting."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import structlog
from beanie import PydanticObjectId
from holdfast.catalog.service import get_provider
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Forbidden, Invalid, NotFound
from holdfast.events import Event
from holdfast.integrations.credentials import SealBroken, seal, unseal
from holdfast.integrations.google import calendar
from holdfast.integrations.google.connected import connected_calendars
from holdfast.integrations.models import ExternalBusy, GoogleConnection, OAuthState
from holdfast.jobs.service import new_job, push_due, schedule_all
from holdfast.signing import TokenInvalid, decode, encode

STATE_AUDIENCE = "holdfast:google-connect"
STATE_LIFETIME = timedelta(minutes=15)
CALLBACK_PATH = "/oauth/google/callback"
log = structlog.get_logger(__name__)
SYNC_ONE = "google.sync_calendar"
WATCH = "google.watch"  # open the calendar's push channel (see `channels`)


class GoogleNotConfigured(DomainError):
    kind, code = ErrorKind.UNAVAILABLE, "google_not_configured"


class GoogleNotConnected(NotFound):
    code = "google_not_connected"


class GoogleReconnectNeeded(DomainError):
    kind, code = ErrorKind.CONFLICT, "google_reconnect_needed"


class GoogleUnavailable(DomainError):
    kind, code = ErrorKind.UNAVAILABLE, "google_unavailable"


class OAuthStateInvalid(Forbidden):
    code = "oauth_state_invalid"


def redirect_uri(ctx: Context) -> str:
    return ctx.settings.public_url.rstrip("/") + CALLBACK_PATH


def require_google(ctx: Context) -> None:
    if not ctx.settings.google_enabled:
        raise GoogleNotConfigured(
            "Google Calendar is not configured: set HOLDFAST_GOOGLE_CLIENT_ID and "
            "HOLDFAST_GOOGLE_CLIENT_SECRET."
        )


async def consent_url(ctx: Context, provider_id: str, admin_id: str) -> str:
    """The Google consent page's address for connecting this provider's calendar. Its `state`
    is signed (a forged one is refused) and single use (a replayed one is refused)."""
    require_google(ctx)
    provider = await get_provider(provider_id)
    now = ctx.now()
    nonce = secrets.token_urlsafe(24)
    await OAuthState(
        id=nonce,
        provider_id=provider.id,
        admin_id=admin_id,
        expires_at=now + STATE_LIFETIME,
        cleanup_at=now + timedelta(days=1),
    ).insert()
    claims = {
        "aud": STATE_AUDIENCE,
        "nonce": nonce,
        "provider": str(provider.id),
        "iat": int(now.timestamp()),
        "exp": int((now + STATE_LIFETIME).timestamp()),
    }
    state = encode(claims, ctx.settings.secret_key.get_secret_value())
    return calendar.consent_url(ctx.settings, state=state, redirect_uri=redirect_uri(ctx))


async def finish_connect(
    ctx: Context, *, state: str | None, code: str | None, error: str | None
) -> PydanticObjectId:
    """Google's redirect back: check the state, take the tokens for the code, keep them sealed,
    and read the calendar's busy time (a job, at once). Returns the provider's id."""
    require_google(ctx)
    now = ctx.now()
    try:
        claims = decode(
            state or "",
            secret=ctx.settings.secret_key.get_secret_value(),
            audience=STATE_AUDIENCE,
            required=["nonce", "provider"],
            now=now,
        )
    except TokenInvalid as exc:
        why = "has expired" if exc.expired else "is not one Holdfast issued"
        raise OAuthStateInvalid(f"This Google sign-in link {why}; please connect again.") from None
    used = await OAuthState.get_pymongo_collection().find_one_and_update(
        {
            "_id": claims["nonce"],
            "used_at": None,
            "provider_id": PydanticObjectId(claims["provider"]),
        },
        {"$set": {"used_at": now}},
    )
    if used is None:
        raise OAuthStateInvalid("This Google sign-in link was used already; please connect again.")
    if error or not code:
        raise Invalid(
            f"Google did not grant access ({error or 'no code'}); the calendar is not connected.",
            code="google_consent_refused",
        )
    try:
        tokens = await calendar.exchange_code(
            ctx.settings, code=code, redirect_uri=redirect_uri(ctx)
        )
    except calendar.CalendarUnavailable as exc:
        raise GoogleUnavailable(f"Google could not be reached ({exc}); please try again.") from None
    except calendar.GrantRevoked as exc:
        raise Invalid(
            f"Google refused the sign-in ({exc}); please connect again.",
            code="google_consent_refused",
        ) from None
    provider_id = PydanticObjectId(claims["provider"])
    await _store(ctx, provider_id, tokens, now)
    kinds = [SYNC_ONE, WATCH] if ctx.settings.google_push else [SYNC_ONE]
    payload = {"provider_id": str(provider_id)}
    jobs = [
        new_job(kind=kind, subject=f"google:{provider_id}", run_at=now, now=now, payload=payload)
        for kind in kinds
    ]
    push_due(ctx, await schedule_all(None, jobs))
    return provider_id


async def _store(
    ctx: Context, provider_id: PydanticObjectId, tokens: calendar.Tokens, now: datetime
) -> None:
    secret = ctx.settings.secret_key
    assert tokens.refresh_token is not None
    await GoogleConnection.get_pymongo_collection().update_one(
        {"_id": provider_id},
        {
            "$set": {
                "calendar_id": "primary",
                "state": "connected",
                "refresh_token": seal(tokens.refresh_token, secret),
                "access_token": seal(tokens.access_token, secret) if tokens.access_token else None,
                "access_expires_at": tokens.expires_at,
                "sync_token": None,  # a new grant: read the calendar in full
                "last_error": None,
                "failing_since": None,
                "reconnect_needed": False,
                "connected_at": now,
                "updated_at": now,
            },
            "$setOnInsert": {"generation": 0},
        },
        upsert=True,
    )
    connected_calendars.forget()


async def disconnect(ctx: Context, provider_id: str) -> None:
    """Forget the connection and the busy time read from it, and stop its push channel. Events
    written to the calendar stay there (they are the provider's now); the grant can be revoked
    in Google's settings. Idempotent: a calendar not connected (never, or no longer: a retried
    request) is disconnected already."""
    provider = await get_provider(provider_id)
    connection = await GoogleConnection.get(provider.id)
    if connection is not None and connection.channel_id and connection.channel_resource_id:
        await stop_channel_quietly(
            ctx, connection, connection.channel_id, connection.channel_resource_id
        )
    removed = await GoogleConnection.get_pymongo_collection().delete_one({"_id": provider.id})
    connected_calendars.forget()
    # Also when nothing was connected: busy time a disconnect that died halfway left behind.
    await ExternalBusy.get_pymongo_collection().delete_many({"provider_id": provider.id})
    if removed.deleted_count:
        await ctx.events.publish(Event("availability-changed", {"provider_id": str(provider.id)}))


def credentials_of(ctx: Context, connection: GoogleConnection) -> calendar.Connection:
    secret = ctx.settings.secret_key
    try:
        refresh = unseal(connection.refresh_token, secret)
        access = unseal(connection.access_token, secret) if connection.access_token else None
    except SealBroken as exc:
        # The secret key changed: the stored grant is unusable, as if it were revoked.
        raise calendar.GrantRevoked(str(exc)) from None
    return calendar.Connection(
        calendar_id=connection.calendar_id,
        refresh_token=refresh,
        access_token=access,
        expires_at=connection.access_expires_at,
    )


async def worked(ctx: Context, connection: GoogleConnection, tokens: calendar.Tokens) -> None:
    """A call succeeded: the connection is healthy, and a refreshed access token is kept for
    the next call (one refresh per hour, not per call)."""
    changes: dict[str, object] = {}
    if connection.state != "connected" or connection.last_error:
        changes |= {"state": "connected", "last_error": None, "failing_since": None}
    current = credentials_of(ctx, connection).access_token
    if tokens.access_token and tokens.access_token != current:
        changes |= {
            "access_token": seal(tokens.access_token, ctx.settings.secret_key),
            "access_expires_at": tokens.expires_at,
        }
    if changes:
        await GoogleConnection.get_pymongo_collection().update_one(
            {"_id": connection.id}, {"$set": {**changes, "updated_at": ctx.now()}}
        )


async def failed(ctx: Context, provider_id: PydanticObjectId, exc: Exception) -> None:
    """A call failed: the connection is `failing`, with the reason and since when (kept from the
    first failure). A refused grant needs the provider to connect again; an outage does not.
    The busy time read before stays in force meanwhile."""
    now = ctx.now()
    revoked = isinstance(exc, calendar.GrantRevoked)
    reason = f"{'Google refused access' if revoked else 'Google unavailable'}: {exc}"[:500]
    collection = GoogleConnection.get_pymongo_collection()
    began = await collection.update_one(
        {"_id": provider_id, "failing_since": None}, {"$set": {"failing_since": now}}
    )
    if began.modified_count:
        # Once per failure, where it starts: the line an alert (issue 15) is raised from; the
        # connection keeps the state, so a rule can also read it.
        log.error(
            "integrations.failing", integration="google", provider=str(provider_id), reason=reason
        )
    changes = {"state": "failing", "last_error": reason, "updated_at": now}
    if revoked:
        changes["reconnect_needed"] = True
    await collection.update_one({"_id": provider_id}, {"$set": changes})


async def stop_channel_quietly(
    ctx: Context, connection: GoogleConnection, channel_id: str, resource_id: str
) -> None:
    """Stop a push channel if Google answers. One left open expires within a week, and what it
    sends is acknowledged and ignored (it is no calendar's current channel)."""
    try:
        await calendar.stop_channel(
            ctx.settings,
            credentials_of(ctx, connection),
            channel_id=channel_id,
            resource_id=resource_id,
        )
    except (calendar.CalendarUnavailable, calendar.GrantRevoked) as exc:
        log.warning(
            "google.channel_not_stopped",
            provider=str(connection.id),
            channel=channel_id,
            error=str(exc),
        )
