"""The Google seam: the only module that imports Google's client libraries.

google-api-python-client is built from the discovery document it ships (no discovery request at
run time), pointed at `HOLDFAST_GOOGLE_API_URL`; google-auth refreshes the access token at
`HOLDFAST_GOOGLE_OAUTH_URL`. Both are synchronous: every call runs in a thread, with a socket
timeout and an overall one. Everything above this module speaks the frozen dataclasses below and
three errors: `CalendarUnavailable` (try again later, after `after`), `GrantRevoked` (only
connecting again helps) and `SyncTokenExpired` (read everything again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import google_auth_httplib2
import httplib2
import httpx
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError
from holdfast.jobs.registry import RetryLater
from holdfast.settings import Settings

SCOPE = "https://www.googleapis.com/auth/calendar.events"
# Busy time is read this far back: an event that ended before it no longer matters.
READ_FROM = timedelta(days=1)
PAGE_SIZE = 250
# Marks the events Holdfast writes, so reading them back never counts them as busy time.
OURS = "holdfast_booking"

T = TypeVar("T")


class CalendarUnavailable(RetryLater):
    """Google is down, slow or asked us to wait (5xx, 429, a timeout): try again later."""


class GrantRevoked(Exception):
    """Google refused the connection's credentials (`invalid_grant`, 401 after a refresh)."""


class SyncTokenExpired(Exception):
    """410 on an incremental read: the sync token is too old; read the calendar in full."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str | None
    expires_at: datetime | None
    refresh_token: str | None


@dataclass(frozen=True, slots=True)
class Connection:
    """What a call needs: the calendar and the provider's tokens (in clear, in memory only)."""

    calendar_id: str
    refresh_token: str
    access_token: str | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """An event Holdfast writes for a booking (no secrets: names, never contact details)."""

    id: str
    booking_id: str
    summary: str
    description: str
    start: datetime
    end: datetime
    location: str | None = None


@dataclass(frozen=True, slots=True)
class ReadEvent:
    """An event read from the calendar. An all-day event's start and end are dates."""

    id: str
    start: datetime | date | None
    end: datetime | date | None
    cancelled: bool
    transparent: bool
    ours: bool

    @property
    def busy(self) -> bool:
        return not (self.cancelled or self.transparent or self.ours) and self.start is not None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[ReadEvent]
    next_page_token: str | None
    next_sync_token: str | None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A call's result and the access token it ended with (refreshed, perhaps)."""

    result: T
    tokens: Tokens


def consent_url(settings: Settings, *, state: str, redirect_uri: str) -> str:
    query = {
        "client_id": settings.google_client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPE,
        "access_type": "offline",
        "prompt": "consent",  # a refresh token every time, also for a calendar connected before
        "include_granted_scopes": "true",
        "state": state,
    }
    return f"{settings.google_oauth_url.rstrip('/')}/o/oauth2/v2/auth?{urlencode(query)}"


def _token_uri(settings: Settings) -> str:
    return f"{settings.google_oauth_url.rstrip('/')}/o/oauth2/token"


async def exchange_code(settings: Settings, *, code: str, redirect_uri: str) -> Tokens:
    """The tokens for an authorization code (one POST: no SDK needed for it)."""
    secret = settings.google_client_secret
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.google_client_id or "",
        "client_secret": secret.get_secret_value() if secret else "",
    }
    try:
        async with httpx.AsyncClient(timeout=settings.google_timeout_seconds) as http:
            answer = await http.post(_token_uri(settings), data=form)
    except httpx.HTTPError as exc:
        raise CalendarUnavailable(f"Google's token endpoint did not answer: {exc!r}") from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise CalendarUnavailable(f"Google's token endpoint answered {answer.status_code}")
    body = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if answer.status_code != 200 or not body.get("refresh_token"):
        raise GrantRevoked(body.get("error") or f"token endpoint answered {answer.status_code}")
    return Tokens(
        access_token=body.get("access_token"),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 0))),
        refresh_token=body["refresh_token"],
    )


@lru_cache(maxsize=1)
def _discovery() -> str:
    """The Calendar v3 discovery document google-api-python-client ships, as text: the client
    adds to a parsed document while building from it, so each build parses its own copy."""
    document = get_static_doc("calendar", "v3")
    assert document is not None, "google-api-python-client ships the Calendar v3 document"
    return str(document)


def _credentials(settings: Settings, connection: Connection) -> Credentials:
    secret = settings.google_client_secret
    expiry = (
        connection.expires_at.astimezone(UTC).replace(tzinfo=None)
        if connection.expires_at
        else None
    )
    return Credentials(  # type: ignore[no-untyped-call]
        token=connection.access_token,
        refresh_token=connection.refresh_token,
        token_uri=_token_uri(settings),
        client_id=settings.google_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scopes=[SCOPE],
        expiry=expiry,  # google-auth compares naive UTC
    )


def _call(
    settings: Settings, connection: Connection, work: Callable[[Any], T], resource: str
) -> Outcome[T]:
    """Run `work(the API's resource: events, channels)` with fresh credentials; in a worker
    thread."""
    credentials = _credentials(settings, connection)
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.google_timeout_seconds)
    )
    endpoint = settings.google_api_url.rstrip("/") + "/"
    service = build_from_document(
        _discovery(), http=http, client_options={"api_endpoint": endpoint}
    )
    try:
        result = work(getattr(service, resource)())
    except RefreshError as exc:
        if exc.retryable:
            raise CalendarUnavailable(f"Google's token endpoint failed: {exc}") from None
        raise GrantRevoked(str(exc)) from None
    except HttpError as exc:
        raise _from_http_error(exc) from None
    except (TransportError, OSError, httplib2.HttpLib2Error) as exc:  # timeouts, refused
        raise CalendarUnavailable(f"Google did not answer: {exc!r}") from None
    expires = credentials.expiry.replace(tzinfo=UTC) if credentials.expiry else None
    return Outcome(result, Tokens(credentials.token, expires, connection.refresh_token))


def _from_http_error(exc: HttpError) -> Exception:
    status = int(exc.resp.status)
    if status == 401:  # still refused after google-auth refreshed the token
        return GrantRevoked(f"Google refused the credentials (401): {exc.reason}")
    if status == 410:
        return SyncTokenExpired()
    after = _retry_after(exc.resp.get("retry-after"))
    return CalendarUnavailable(f"Google answered {status}: {exc.reason}", after=after)


def _retry_after(value: str | None) -> timedelta | None:
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        return max(parsedate_to_datetime(value) - datetime.now(UTC), timedelta(0))
    except (TypeError, ValueError):
        return None


async def _in_thread(
    settings: Settings, connection: Connection, work: Callable[[Any], T], resource: str = "events"
) -> Outcome[T]:
    # The socket timeout bounds each request; this bounds a call that makes several (a refresh
    # and its retry). A thread left behind by it ends with its own socket timeout.
    limit = settings.google_timeout_seconds * 3
    try:
        called = asyncio.to_thread(_call, settings, connection, work, resource)
        return await asyncio.wait_for(called, limit)
    except TimeoutError:
        raise CalendarUnavailable(f"Google took longer than {limit:.0f} s") from None


async def list_events(
    settings: Settings,
    connection: Connection,
    *,
    sync_token: str | None,
    page_token: str | None,
    now: datetime,
) -> Outcome[EventPage]:
    """One page of the calendar's events: all of them from a day ago on (no sync token), or
    what changed since the sync token, cancelled events included."""
    query: dict[str, Any] = {
        "calendarId": connection.calendar_id,
        "singleEvents": True,  # a recurring event's instances, each with its own times
        "maxResults": PAGE_SIZE,
    }
    if sync_token:
        query["syncToken"] = sync_token
    else:
        query["timeMin"] = (now - READ_FROM).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if page_token:
        query["pageToken"] = page_token

    def work(events: Any) -> EventPage:
        answer = events.list(**query).execute()
        return EventPage(
            events=[_read(item) for item in answer.get("items", [])],
            next_page_token=answer.get("nextPageToken"),
            next_sync_token=answer.get("nextSyncToken"),
        )

    return await _in_thread(settings, connection, work)


def _read(item: dict[str, Any]) -> ReadEvent:
    private = item.get("extendedProperties", {}).get("private", {})
    return ReadEvent(
        id=str(item["id"]),
        start=_when(item.get("start")),
        end=_when(item.get("end")),
        cancelled=item.get("status") == "cancelled",
        transparent=item.get("transparency") == "transparent",
        ours=OURS in private,
    )


def _when(value: dict[str, str] | None) -> datetime | date | None:
    if not value:
        return None
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC)
    if "date" in value:
        return date.fromisoformat(value["date"])
    return None


def _body(event: CalendarEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event.id,
        "summary": event.summary,
        "description": event.description,
        "start": {"dateTime": _z(event.start)},
        "end": {"dateTime": _z(event.end)},
        "status": "confirmed",
        "transparency": "opaque",
        "extendedProperties": {"private": {OURS: event.booking_id}},
    }
    if event.location:
        body["location"] = event.location
    return body


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def put_event(
    settings: Settings, connection: Connection, event: CalendarEvent
) -> Outcome[None]:
    """Create the event, or update it if it exists (a retry, a reschedule, a booking whose
    event was deleted and is back): its id is the booking's, so there is only ever one."""
    body = _body(event)
    calendar = connection.calendar_id

    def work(events: Any) -> None:
        try:
            events.insert(calendarId=calendar, body=body).execute()
        except HttpError as exc:
            if int(exc.resp.status) != 409:  # 409: the id exists already
                raise
            events.update(calendarId=calendar, eventId=event.id, body=body).execute()

    return await _in_thread(settings, connection, work)


async def delete_event(settings: Settings, connection: Connection, event_id: str) -> Outcome[None]:
    """Delete the event; one that is gone already (404, 410) is as good as deleted."""
    calendar = connection.calendar_id

    def work(events: Any) -> None:
        try:
            events.delete(calendarId=calendar, eventId=event_id).execute()
        except HttpError as exc:
            if int(exc.resp.status) not in (404, 410):
                raise

    return await _in_thread(settings, connection, work)


@dataclass(frozen=True, slots=True)
class Channel:
    """A push channel: Google posts to our address whenever the calendar changes, until
    `expires_at`."""

    id: str
    resource_id: str
    expires_at: datetime


async def watch(
    settings: Settings,
    connection: Connection,
    *,
    channel_id: str,
    token: str,
    address: str,
    ttl: timedelta,
    now: datetime,
) -> Outcome[Channel]:
    """Open a push channel on the calendar's events (`events.watch`): Google sends `token` back
    with every notification, which is how a notification is told from a forged one."""
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": token,
        "params": {"ttl": str(int(ttl.total_seconds()))},
    }
    calendar = connection.calendar_id

    def work(events: Any) -> Channel:
        answer = events.watch(calendarId=calendar, body=body).execute()
        expiration = answer.get("expiration")  # milliseconds since the epoch, as a string
        expires = datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration else now + ttl
        return Channel(str(answer["id"]), str(answer["resourceId"]), expires)

    return await _in_thread(settings, connection, work)


async def stop_channel(
    settings: Settings, connection: Connection, *, channel_id: str, resource_id: str
) -> Outcome[None]:
    """Stop a push channel (`channels.stop`); one Google no longer knows (404) is stopped."""

    def work(channels: Any) -> None:
        try:
            channels.stop(body={"id": channel_id, "resourceId": resource_id}).execute()
        except HttpError as exc:
            if int(exc.resp.status) != 404:
                raise

    return await _in_thread(settings, connection, work, resource="channels")
