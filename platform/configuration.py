"""The effective configuration as an operator sees it in the console (`GET /api/admin/settings`).

Settings come from `HOLDFAST_*` environment variables, read once at start (`holdfast.settings`):
this view is read-only. Every setting is listed, grouped, with its variable, its value and its
description; a new setting shows up by itself (under "other" until it is given a section).
A secret is never shown, only whether it is set: `SecretStr` fields, the password inside a
URL, and whole URLs that are themselves a credential (an alert webhook's address).
"""

from __future__ import annotations

from typing import Any, get_args
from urllib.parse import urlsplit, urlunsplit

from holdfast.settings import Settings
from pydantic import BaseModel, Field, SecretStr

SECTIONS: dict[str, tuple[str, ...]] = {
    "practice": ("public_url", "practice_address", "mail_from", "sms_from"),
    "booking": (
        "booking_horizon_days", "series_horizon_weeks", "reschedule_cutoff_hours",
        "payment_hold_minutes", "idempotency_hours", "book_now_minutes",
        "meeting_link_wait_seconds",
    ),
    "rate_limits": (
        "rate_limit_requests", "rate_limit_window_seconds", "login_failures_allowed",
        "registrations_per_hour", "max_body_bytes", "read_timeout_seconds",
    ),
    "retention": (
        "retention_claim_days", "retention_job_days", "retention_dead_job_days",
        "retention_message_days", "retention_batch",
    ),
    "alerts": (
        "alerts_enabled", "alert_emails", "alert_webhook_url", "alert_webhook_secret",
        "alert_interval_seconds", "alert_window_minutes", "alert_delivery_failure_rate",
        "alert_server_errors",
    ),
    "email_and_sms": ("smtp_url", "sms_url", "sms_token", "send_timeout_seconds"),
    "stripe": ("stripe_secret_key", "stripe_webhook_secret", "stripe_api_url"),
    "google": (
        "google_client_id", "google_client_secret", "google_api_url", "google_oauth_url",
        "google_sync_minutes", "google_timeout_seconds", "google_push",
    ),
    "zoom": (
        "zoom_account_id", "zoom_client_id", "zoom_client_secret", "zoom_api_url",
        "zoom_oauth_url", "zoom_user", "zoom_timeout_seconds",
    ),
    "calendly": (
        "calendly_signing_key", "calendly_api_url", "calendly_token", "calendly_scheduling_url",
    ),
    "cancellation_webhook": ("webhook_signing_key",),
    "jobs": (
        "promoter_window_seconds", "promoter_tick_seconds", "job_timeout_seconds",
        "worker_poll_seconds", "job_lease_seconds", "background_nice",
    ),
    "infrastructure": (
        "mongo_url", "queue_redis_url", "cache_redis_url", "mongo_timeout_ms",
        "index_retry_seconds", "cache_rules", "cache_timeout_ms", "catalog_snapshot_seconds",
        "session_hours", "secret_key", "trusted_proxies", "metrics_token", "metrics_allow",
        "traffic_flush_seconds", "dev",
    ),
}  # fmt: skip
# Not SecretStr, yet a credential as a whole (a chat webhook's URL is its own password).
CREDENTIAL_URLS = frozenset({"alert_webhook_url"})
SET, NOT_SET = "set", "not set"


class SettingOut(BaseModel):
    name: str
    variable: str = Field(description="The environment variable that sets it.")
    value: Any = Field(description='Its effective value; a secret is only "set" or "not set".')
    secret: bool
    default: bool = Field(description="Whether it is at its default.")
    description: str


class SectionOut(BaseModel):
    name: str
    settings: list[SettingOut]


class IntegrationSettingsOut(BaseModel):
    name: str
    configured: bool
    parameters: dict[str, Any] = Field(description="Its non-secret parameters.")


class ConfigurationOut(BaseModel):
    read_only: bool = True
    how_to_change: str
    practice_name: str = Field(description="The name emails come from (HOLDFAST_MAIL_FROM).")
    practice_address: str | None = Field(description="Named in invites and confirmations.")
    your_timezone: str = Field(
        description="The console shows times in your account's zone (change it on /account); "
        "each practitioner's hours are in their own zone."
    )
    integrations: list[IntegrationSettingsOut]
    sections: list[SectionOut]


def _without_password(url: str) -> str:
    """A URL with any password in it replaced by ****."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return SET  # not a URL we can take apart safely: say only that it is set


def shown(name: str, value: Any) -> tuple[Any, bool]:
    """What the console may see of a setting, and whether it is a secret."""
    if isinstance(value, SecretStr) or name in CREDENTIAL_URLS:
        return (SET if value else NOT_SET), True
    if isinstance(value, str) and "://" in value:
        return _without_password(value), False
    return value, False


def _setting(settings: Settings, name: str) -> SettingOut:
    field = Settings.model_fields[name]
    raw = getattr(settings, name)
    value, secret = shown(name, raw)
    # An unset secret is None: its declared type still says it is one.
    secret = secret or field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    return SettingOut(
        name=name,
        variable=f"HOLDFAST_{name.upper()}",
        value=(SET if raw else NOT_SET) if secret else value,
        secret=secret,
        default=raw == field.default,
        description=field.description or "",
    )


def _integrations(settings: Settings) -> list[IntegrationSettingsOut]:
    def of(name: str, configured: bool, **parameters: Any) -> IntegrationSettingsOut:
        visible = {k: shown(k, v)[0] for k, v in parameters.items()}
        return IntegrationSettingsOut(name=name, configured=configured, parameters=visible)

    s = settings
    return [
        of("stripe", s.stripe_secret_key is not None, api_url=s.stripe_api_url,
           webhook_secret=s.stripe_webhook_secret, payment_hold_minutes=s.payment_hold_minutes),
        of("google", s.google_enabled, client_id=s.google_client_id, api_url=s.google_api_url,
           oauth_url=s.google_oauth_url, sync_minutes=s.google_sync_minutes, push=s.google_push),
        of("zoom", s.zoom_enabled, account_id=s.zoom_account_id, client_id=s.zoom_client_id,
           api_url=s.zoom_api_url, user=s.zoom_user),
        of("calendly", s.calendly_signing_key is not None, api_url=s.calendly_api_url,
           scheduling_url=s.calendly_scheduling_url, token=s.calendly_token),
        of("smtp", s.smtp_url is not None, url=s.smtp_url, mail_from=s.mail_from),
        of("sms", s.sms_url is not None, url=s.sms_url, sender=s.sms_from, token=s.sms_token),
        of("cancellation_webhook", s.webhook_signing_key is not None),
        of("alert_webhook", s.alert_webhook_url is not None,
           url=shown("alert_webhook_url", s.alert_webhook_url)[0],
           signed=s.alert_webhook_secret is not None),
    ]  # fmt: skip


def configuration(settings: Settings, *, viewer_timezone: str) -> ConfigurationOut:
    """The whole effective configuration, secrets withheld."""
    from email.utils import parseaddr

    placed = {name for names in SECTIONS.values() for name in names}
    others = tuple(name for name in Settings.model_fields if name not in placed)
    sections = [
        SectionOut(
            name=section,
            settings=[_setting(settings, n) for n in names if n in Settings.model_fields],
        )
        for section, names in {**SECTIONS, "other": others}.items()
        if names
    ]
    address = settings.practice_address or None
    return ConfigurationOut(
        how_to_change="Settings come from HOLDFAST_* environment variables, read once at "
        "start: change them where the processes are started (compose.yaml, the service "
        "definition) and restart them. `holdfast check` validates them.",
        practice_name=parseaddr(settings.mail_from)[0] or settings.mail_from_address,
        practice_address=address,
        your_timezone=viewer_timezone,
        integrations=_integrations(settings),
        sections=sections,
    )
