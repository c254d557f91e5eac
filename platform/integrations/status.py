"""What the admin sees of every integration: off, connected or failing (why, since when).

Google is listed per provider (each connects their own calendar); the others are account-wide.
The failing state is recorded where the work happens (a connection's last call), so an alert
rule can read the same documents this board does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from holdfast.catalog.models import Provider
from holdfast.context import Context
from holdfast.integrations.models import GoogleConnection, IntegrationHealth

State = Literal["off", "connected", "failing"]


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    integration: str  # google · zoom · calendly · stripe · smtp · sms
    state: State
    detail: str
    provider_id: str | None = None
    provider_name: str | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    last_synced_at: datetime | None = None
    reconnect_needed: bool = False


async def integrations(ctx: Context) -> list[IntegrationStatus]:
    return [*await _google(ctx), await _zoom(ctx), *_account_wide(ctx)]


async def failing_integrations(ctx: Context) -> list[IntegrationStatus]:
    """The integrations in the `failing` state now (the dashboard, the gauges, the alert)."""
    return [i for i in await integrations(ctx) if i.state == "failing"]


async def google_status(ctx: Context, provider: Provider) -> IntegrationStatus:
    connection = await GoogleConnection.get(provider.id)
    return _google_of(ctx, provider, connection)


async def _google(ctx: Context) -> list[IntegrationStatus]:
    if not ctx.settings.google_enabled:
        return [IntegrationStatus("google", "off", _GOOGLE_UNSET)]
    providers = await Provider.find_all().sort("name", "_id").to_list()
    connections = {c.id: c for c in await GoogleConnection.find_all().to_list()}
    return [_google_of(ctx, p, connections.get(p.id)) for p in providers]  # type: ignore[arg-type]


_GOOGLE_UNSET = (
    "Set HOLDFAST_GOOGLE_CLIENT_ID and HOLDFAST_GOOGLE_CLIENT_SECRET to connect calendars."
)


def _google_of(
    ctx: Context, provider: Provider, connection: GoogleConnection | None
) -> IntegrationStatus:
    pid, name = str(provider.id), provider.name
    if not ctx.settings.google_enabled:
        return IntegrationStatus("google", "off", _GOOGLE_UNSET, pid, name)
    if connection is None:
        prompt = "Not connected: connect this calendar to block its busy time."
        return IntegrationStatus("google", "off", prompt, pid, name)
    if connection.state == "failing":
        fix = "connect it again" if connection.reconnect_needed else "it is retried"
        detail = f"Failing ({fix}); the busy time read before stays in force."
    else:
        detail = "Bookings are written to this calendar; its busy time blocks booking."
    return IntegrationStatus(
        "google",
        connection.state,
        detail,
        last_error=connection.last_error,
        failing_since=connection.failing_since,
        last_synced_at=connection.last_synced_at,
        reconnect_needed=connection.reconnect_needed,
        provider_id=pid,
        provider_name=name,
    )


async def _zoom(ctx: Context) -> IntegrationStatus:
    if not ctx.settings.zoom_enabled:
        return IntegrationStatus(
            "zoom",
            "off",
            "Set HOLDFAST_ZOOM_ACCOUNT_ID, _CLIENT_ID and _CLIENT_SECRET for meetings.",
        )
    health = await IntegrationHealth.get("zoom")
    if health is None or health.state == "connected":
        return IntegrationStatus("zoom", "connected", "Every video booking gets a Zoom meeting.")
    return IntegrationStatus(
        "zoom",
        "failing",
        "Failing: meetings are retried; bookings are not held up.",
        last_error=health.last_error,
        failing_since=health.failing_since,
    )


def _account_wide(ctx: Context) -> list[IntegrationStatus]:
    settings = ctx.settings

    def configured(name: str, on: bool, yes: str, no: str) -> IntegrationStatus:
        return IntegrationStatus(name, "connected" if on else "off", yes if on else no)

    return [
        configured(
            "calendly",
            settings.calendly_signing_key is not None,
            "Calendly webhooks are accepted.",
            "Set HOLDFAST_CALENDLY_SIGNING_KEY to accept Calendly bookings.",
        ),
        configured(
            "stripe",
            settings.stripe_secret_key is not None,
            "Prepaid services are paid online through Stripe.",
            "Set HOLDFAST_STRIPE_SECRET_KEY to take payment online; prepaid services cannot be "
            "booked online meanwhile.",
        ),
        configured(
            "smtp",
            settings.smtp_url is not None,
            "Email is sent through the configured SMTP server.",
            "No SMTP server: emails are kept in the outbox (GET /api/admin/messages).",
        ),
        configured(
            "sms",
            settings.sms_url is not None,
            "SMS are sent through the configured gateway.",
            "No SMS gateway: text messages are kept in the outbox.",
        ),
    ]
