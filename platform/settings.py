"""Process settings, built once at start-up from `HOLDFAST_*` environment variables.

Nothing reads the environment at import time: each process calls `load_settings()` in its entry
point and passes the result down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(SystemExit):
    """A missing or invalid setting: the process stops with one sentence naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOLDFAST_", frozen=True, extra="ignore")

    mongo_url: str = Field(description="MongoDB URL with the database name in its path.")
    queue_redis_url: str = Field(description="The Redis that arq executes jobs from.")
    cache_redis_url: str | None = Field(
        default=None, description="The Redis used only as a cache; unset means no cache."
    )
    secret_key: SecretStr = Field(
        description="Signs sessions, scheduling tokens, offer and claim links (32+ characters)."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL used in links sent to people."
    )
    mongo_timeout_ms: int = Field(
        default=400,
        ge=50,
        le=30_000,
        description="Server-selection and connect timeout: how fast a MongoDB outage becomes 503.",
    )
    session_hours: int = Field(default=24 * 7, ge=1, description="Lifetime of a login token.")
    booking_horizon_days: int = Field(
        default=365, ge=1, le=3650, description="How far ahead availability may be asked for."
    )
    series_horizon_weeks: int = Field(
        default=12,
        ge=1,
        le=520,
        description="How far ahead an open-ended recurring series is booked; a daily job moves "
        "it forward (never beyond the booking horizon).",
    )
    reschedule_cutoff_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 365,
        description="A client may move their own booking until this many hours before it "
        "starts (the practice always may).",
    )
    idempotency_hours: int = Field(
        default=48, ge=24, description="How long Idempotency-Key results are kept (at least 24)."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest accepted body.")
    promoter_window_seconds: int = Field(
        default=600, ge=1, le=24 * 3600, description="How far ahead the promoter queues jobs."
    )
    promoter_tick_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the promoter looks for due jobs."
    )
    worker_poll_seconds: float = Field(
        default=0.02, gt=0, le=5, description="How often a worker polls the queue Redis."
    )
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the CPU priority of the promoter and the workers is than the "
        "API's (Unix nice): on a machine they share, a client's request goes first and the jobs "
        "take the time left over; 0 keeps them equal.",
    )
    job_timeout_seconds: int = Field(
        default=60, ge=1, le=3600, description="Longest one try of a job may run before retry."
    )
    job_lease_seconds: int = Field(
        default=60,
        ge=2,
        le=3600,
        description="How long a running job is held for its worker; renewed every quarter of it, "
        "so machines' clocks may differ by up to three quarters of it.",
    )
    send_timeout_seconds: int = Field(
        default=30, ge=1, le=600, description="The longest one email or SMS send may take."
    )
    retention_claim_days: int = Field(
        default=30,
        ge=1,
        description="Slot claim units that ended more than this many days ago are pruned.",
    )
    retention_job_days: int = Field(
        default=30, ge=1, description="Succeeded and cancelled jobs are kept this many days."
    )
    retention_dead_job_days: int = Field(
        default=365, ge=1, description="Dead jobs are kept this many days (unless retried)."
    )
    retention_message_days: int = Field(
        default=90,
        ge=1,
        description="Messages are kept this many days (longer while their job may still run).",
    )
    retention_batch: int = Field(
        default=500, ge=1, le=10_000, description="Documents the retention job deletes at once."
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://user:pass@host:port (smtps:// for TLS); unset: outbox."
    )
    mail_from: str = Field(
        default="Holdfast <no-reply@holdfast.local>", description="The From of every email."
    )
    practice_address: str = Field(
        default="",
        max_length=300,
        description="Where in-person sessions take place, as invites and confirmations say; "
        "unset: 'In person with <practitioner>'.",
    )
    sms_url: str | None = Field(
        default=None, description="A Twilio-compatible Messages endpoint; unset: outbox."
    )
    sms_token: SecretStr | None = Field(
        default=None, description="'sid:secret' for basic auth, or a bearer token."
    )
    sms_from: str = Field(default="Holdfast", description="The sender of every SMS.")
    cache_rules: str | None = Field(
        default=None,
        description="Path of cache_rules.yaml; default ./cache_rules.yaml, else the repository's.",
    )
    cache_timeout_ms: int = Field(
        default=50, ge=5, le=5000, description="Cache Redis timeout: slower than this is bypassed."
    )
    catalog_snapshot_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a process reuses a service and its providers for bookings, and "
        "which providers have a Google Calendar connected (another process's change shows "
        "after at most this long); 0 = never.",
    )
    index_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="The longest wait between attempts to build a MongoDB index that failed "
        "(e.g. duplicates in a unique one); the writes that need it are refused meanwhile.",
    )
    rate_limit_requests: int = Field(
        default=300, ge=1, description="Requests one client may make per rate-limit window."
    )
    rate_limit_window_seconds: int = Field(default=60, ge=1, description="The rate-limit window.")
    login_failures_allowed: int = Field(
        default=5,
        ge=1,
        description="Failed logins of one account from one address before that address waits "
        "(an address across accounts gets 4x).",
    )
    registrations_per_hour: int = Field(
        default=20, ge=1, description="New accounts one address may register per hour."
    )
    calendly_signing_key: SecretStr | None = Field(
        default=None, description="Calendly webhook signing key; unset: Calendly disabled."
    )
    webhook_signing_key: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key of the generic cancellation webhook; unset: it is off.",
    )
    calendly_api_url: str = Field(
        default="https://api.calendly.com", description="Calendly API base (tests point it home)."
    )
    calendly_token: SecretStr | None = Field(
        default=None, description="Calendly API token, used to cancel bookings outside policy."
    )
    calendly_scheduling_url: str | None = Field(
        default=None, description="The Calendly scheduling page that Book now links to."
    )
    book_now_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a Book now link stays valid."
    )
    google_client_id: str | None = Field(
        default=None, description="The practice's Google OAuth client id; unset: Google off."
    )
    google_client_secret: SecretStr | None = Field(
        default=None, description="The practice's Google OAuth client secret."
    )
    google_api_url: str = Field(
        default="https://www.googleapis.com/calendar/v3",
        description="Google Calendar API base (tests point it at a loopback fake).",
    )
    google_oauth_url: str = Field(
        default="https://accounts.google.com",
        description="Google OAuth base: consent at /o/oauth2/v2/auth, tokens at /o/oauth2/token.",
    )
    google_sync_minutes: int = Field(
        default=5, ge=1, le=24 * 60, description="How often connected calendars are read."
    )
    google_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="The longest one Google API call may take."
    )
    google_push: bool = Field(
        default=False,
        description="Open a Google push channel (events.watch) per connected calendar, so a "
        "change is read within seconds; Google must reach HOLDFAST_PUBLIC_URL over https.",
    )
    zoom_account_id: str | None = Field(
        default=None, description="Zoom Server-to-Server OAuth account id; unset: Zoom off."
    )
    zoom_client_id: str | None = Field(default=None, description="Zoom S2S OAuth client id.")
    zoom_client_secret: SecretStr | None = Field(
        default=None, description="Zoom S2S OAuth client secret."
    )
    zoom_api_url: str = Field(default="https://api.zoom.us/v2", description="Zoom API base.")
    zoom_oauth_url: str = Field(
        default="https://zoom.us", description="Zoom OAuth base (tokens at /oauth/token)."
    )
    zoom_user: str = Field(
        default="me", description="The Zoom user (id or email) that hosts every meeting."
    )
    zoom_timeout_seconds: float = Field(
        default=10.0, ge=1, le=120, description="The longest one Zoom API call may take."
    )
    meeting_link_wait_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="How long a video booking's confirmation waits for its meeting link before "
        "it goes without it (a message with the link follows).",
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None,
        description="Stripe API secret key; unset: payments off (prepaid services cannot be "
        "booked online).",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="Stripe webhook signing secret (whsec_...)."
    )
    stripe_api_url: str = Field(
        default="https://api.stripe.com", description="Stripe API base (tests point it home)."
    )
    payment_hold_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long an unpaid booking holds its slot."
    )
    dev: bool = Field(default=False, description="Set by `holdfast dev`: relaxed cookie security.")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of the reverse proxies in front of the "
        "API: only their X-Forwarded-For / X-Forwarded-Proto are believed. Empty: none (the "
        "peer's address is the client's).",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="A bearer token that lets Prometheus read /metrics."
    )
    metrics_allow: str = Field(
        default="127.0.0.1,::1",
        description="Comma-separated addresses or networks that may read /metrics without the "
        "token (empty: none).",
    )
    read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long a client may take to send a whole request (headers and body) "
        "after connecting or starting it; slower connections are closed.",
    )
    traffic_flush_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often each API process writes its request counts (booking attempts, "
        "latency, 5xx) to MongoDB for the admin's stats.",
    )
    alerts_enabled: bool = Field(
        default=True,
        description="Evaluate the alert rules and notify (false: a staging copy that must not "
        "page anyone).",
    )
    alert_emails: str = Field(
        default="",
        description="Comma-separated addresses that get alerts besides every admin's email.",
    )
    alert_webhook_url: str | None = Field(
        default=None, description="Alerts are also POSTed here as JSON (unset: email only)."
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signs alert webhooks: X-Holdfast-Signature: sha256=<hex HMAC of the body>.",
    )
    alert_interval_seconds: int = Field(
        default=30, ge=5, le=3600, description="How often the alert rules are evaluated."
    )
    alert_window_minutes: int = Field(
        default=5,
        ge=1,
        le=1440,
        description="The recent stretch the alert rules look at (dead jobs, 5xx, deliveries).",
    )
    alert_delivery_failure_rate: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Alert when at least this share of recent messages is failing to deliver.",
    )
    alert_server_errors: int = Field(
        default=10, ge=1, description="Alert when the API answers this many 5xx in the window."
    )

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("metrics_token", "alert_webhook_secret", mode="before")
    @classmethod
    def _token_or_nothing(cls, value: object) -> object:
        # compose passes an unset variable as "": that must not become an empty token.
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw in ("", None):
            return None
        if isinstance(raw, str) and len(raw) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _addresses(cls, value: str) -> str:
        import ipaddress

        networks = []
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(f"'{entry}' is not an IP address or network") from None
        return ",".join(networks)

    @field_validator("mongo_url")
    @classmethod
    def _names_a_database(cls, value: str) -> str:
        from pymongo.uri_parser import parse_uri

        try:
            parsed = parse_uri(value)
        except Exception as exc:  # pymongo raises several types for a bad URL
            raise ValueError(f"is not a MongoDB URL ({exc})") from None
        if not parsed.get("database"):
            raise ValueError("must name the database in its path, e.g. mongodb://host/holdfast")
        return value

    @property
    def cache_rules_file(self) -> Path:
        if self.cache_rules:
            return Path(self.cache_rules)
        here = Path.cwd() / "cache_rules.yaml"
        # An editable install finds the repository's file next to platform/.
        return here if here.exists() else Path(__file__).resolve().parents[1] / "cache_rules.yaml"

    @property
    def google_enabled(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def zoom_enabled(self) -> bool:
        return bool(self.zoom_account_id and self.zoom_client_id and self.zoom_client_secret)

    @property
    def mail_from_address(self) -> str:
        from email.utils import parseaddr

        return parseaddr(self.mail_from)[1] or "no-reply@holdfast.local"

    @property
    def mongo_database(self) -> str:
        from pymongo.uri_parser import parse_uri

        return str(parse_uri(self.mongo_url)["database"])


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, or stop the process with one clear sentence."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        variable = f"HOLDFAST_{field.upper()}"
        if first["type"] == "missing":
            raise SettingsError(
                f"Holdfast cannot start: {variable} is required but not set."
            ) from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"Holdfast cannot start: {variable} {message}.") from None
