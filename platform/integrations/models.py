"""What the integrations keep in MongoDB: calendar connections and their health, the busy time
read from calendars, OAuth states, the shared Zoom token and each booking's meeting."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pymongo import ASCENDING, IndexModel

# connected: working (or not yet tried) · failing: the last call failed, with the reason and
# since when; a connection whose grant was revoked stays failing until it is connected again.
ConnectionState = Literal["connected", "failing"]


class GoogleConnection(Document):
    """One provider's Google Calendar. `_id` is the provider's id: one calendar per provider."""

    id: PydanticObjectId
    calendar_id: str = "primary"
    state: ConnectionState = "connected"
    # Sealed (see `holdfast.integrations.credentials`): never stored or logged in clear.
    refresh_token: str
    access_token: str | None = None
    access_expires_at: datetime | None = None
    # The incremental sync's position; None: the next sync reads everything from scratch.
    sync_token: str | None = None
    # A full read writes busy rows with a new generation, then drops the older ones: the busy
    # time read before stays in force until the new read is complete.
    generation: int = 0
    last_synced_at: datetime | None = None
    # One sync at a time per calendar (a periodic one and an admin's "sync now" may meet).
    sync_lease_until: datetime | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    reconnect_needed: bool = False  # the grant is gone: only connecting again fixes it
    # The push channel Google notifies us through (see `integrations.google.channels`).
    channel_id: str | None = None
    channel_resource_id: str | None = None
    channel_expires_at: datetime | None = None
    connected_at: datetime
    updated_at: datetime

    class Settings:
        name = "google_connections"


class ExternalBusy(Document):
    """Busy time read from a provider's calendar: one event (or one instance of a recurring
    event). `_id` is "<provider id>:<Google event id>"."""

    id: str  # type: ignore[assignment]
    provider_id: PydanticObjectId
    start: datetime
    end: datetime
    generation: int
    updated_at: datetime

    class Settings:
        name = "external_busy"
        # Availability asks "what of this provider's ends after the window starts": the rows
        # that ended long ago are dropped by each sync, so this walks the future only.
        indexes = [
            IndexModel([("provider_id", ASCENDING), ("end", ASCENDING)], name="provider_end")
        ]


class OAuthState(Document):
    """The `state` of one consent request: single use, for one provider, short-lived."""

    id: str  # type: ignore[assignment]  # the random nonce the signed state carries
    provider_id: PydanticObjectId
    admin_id: str
    expires_at: datetime
    used_at: datetime | None = None
    cleanup_at: datetime

    class Settings:
        name = "oauth_states"
        indexes = [IndexModel([("cleanup_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]


class IntegrationHealth(Document):
    """The health of an account-wide integration (Zoom): failing since when, and why."""

    id: str  # type: ignore[assignment]  # "zoom"
    state: ConnectionState = "connected"
    last_error: str | None = None
    failing_since: datetime | None = None
    last_ok_at: datetime | None = None
    updated_at: datetime

    class Settings:
        name = "integration_health"


class SharedToken(Document):
    """An access token every process shares (Zoom's Server-to-Server token: a new one ends the
    one before, so exactly one process fetches it, under a lease, before the old one expires)."""

    id: str  # type: ignore[assignment]  # "zoom"
    access_token: str | None = None  # sealed
    expires_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    updated_at: datetime

    class Settings:
        name = "shared_tokens"


# creating: claimed before Zoom is asked (a meeting may exist at Zoom that we did not hear of)
# · created: Zoom's meeting id known · deleted: the booking was cancelled and the meeting gone.
MeetingState = Literal["creating", "created", "deleted"]


class MeetingRecord(Document):
    """A booking's video meeting: the claim written before Zoom is called and the meeting id
    after, so a retry (or a worker killed in between) finds the meeting instead of making a
    second one. `_id` is the booking's id."""

    id: PydanticObjectId
    provider: Literal["zoom"] = "zoom"
    state: MeetingState = "creating"
    marker: str  # written into the meeting's agenda: how a retry recognises it at Zoom
    # While `creating`: the try that may be asking Zoom now holds the claim until then (a second
    # try at the same time would not find the first one's meeting yet, and make another).
    creating_until: datetime | None = None
    meeting_id: str | None = None
    join_url: str | None = None
    # The start and length the meeting at Zoom has: a moved booking's meeting is moved.
    start: datetime | None = None
    minutes: int | None = None
    claimed_at: datetime
    updated_at: datetime

    class Settings:
        name = "meetings"
