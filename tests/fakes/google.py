"""A fake Google on loopback: the OAuth consent redirect and token endpoint, and Calendar v3's
events (insert, update, delete, list with page and sync tokens, 410 on an expired sync token),
as far as Holdfast uses them. Driven by the real google-api-python-client and google-auth.

A test can take it down (503 with Retry-After), make it lose its answers to writes, refuse a
provider's grant (`invalid_grant`), expire every sync token, and add or change events as the
provider would in their calendar. Push channels (`events.watch`, `channels.stop`) are kept by
the test's clock; `notifications()` gives what Google would post to each live channel.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import SecretStr

from tests.fakes import LoopbackHttp

CLIENT_ID = "holdfast-test.apps.googleusercontent.com"
CLIENT_SECRET = "google-client-secret"


@dataclass
class Stored:
    body: dict[str, Any]
    seq: int  # the change counter when it last changed: what a sync token is compared with
    calendar: str


@dataclass
class FakeGoogle(LoopbackHttp):
    down: bool = False  # every Calendar call answers 503 (token calls still work)
    # Writes are made but answered 503, as if the answer were lost on the way back.
    lose_answers: bool = False
    retry_after: int = 1
    page_size: int = 50  # the most events one list page holds (Google: maxResults, at most 250)
    events: dict[str, Stored] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> consent request
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    access_tokens: set[str] = field(default_factory=set)
    consents: list[dict[str, str]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of API calls
    inserted: Counter[str] = field(default_factory=Counter)  # event id -> inserts that made it
    oldest_sync: int = 0  # sync tokens older than this answer 410
    # Push channels by id: {calendar, address, token, resourceId, expires_at, stopped, number}.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # a test's clock
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _last: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__()

    # --- what a test does -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.url}/calendar/v3"

    def settings(self) -> dict[str, Any]:
        """What points Holdfast at this fake (an update for `Settings.model_copy`)."""
        return {
            "google_client_id": CLIENT_ID,
            "google_client_secret": SecretStr(CLIENT_SECRET),
            "google_api_url": self.api_url,
            "google_oauth_url": self.url,
        }

    def add_busy(
        self,
        start: datetime,
        end: datetime,
        *,
        transparent: bool = False,
        event_id: str | None = None,
    ) -> str:
        """An event the provider made in their own calendar."""
        event_id = event_id or f"ext{secrets.token_hex(6)}"
        body = {
            "id": event_id,
            "status": "confirmed",
            "summary": "Dentist",
            "start": {"dateTime": _z(start)},
            "end": {"dateTime": _z(end)},
        }
        if transparent:
            body["transparency"] = "transparent"
        with self._lock:
            self.events[event_id] = Stored(body, self._next(), "primary")
        return event_id

    def remove(self, event_id: str) -> None:
        with self._lock:
            stored = self.events[event_id]
            stored.body["status"] = "cancelled"
            stored.seq = self._next()

    def expire_sync_tokens(self) -> None:
        with self._lock:
            self.oldest_sync = self._last + 1

    def revoke_all(self) -> None:
        with self._lock:
            for token in self.refresh_tokens:
                self.refresh_tokens[token] = False
            self.access_tokens.clear()

    def ours(self) -> dict[str, dict[str, Any]]:
        """Holdfast's events that exist (not cancelled), by id."""
        with self._lock:
            return {
                k: s.body
                for k, s in self.events.items()
                if "holdfast_booking" in s.body.get("extendedProperties", {}).get("private", {})
                and s.body.get("status") != "cancelled"
            }

    def live_channels(self, calendar: str = "primary") -> list[str]:
        with self._lock:
            return [
                k
                for k, c in self.channels.items()
                if c["calendar"] == calendar and not c["stopped"] and c["expires_at"] > self.clock()
            ]

    def notifications(self, calendar: str = "primary") -> list[tuple[str, dict[str, str]]]:
        """What Google sends each live channel of the calendar when it changes: the address
        and the headers (the body is empty). A test posts them (its app is in-process)."""
        sent = []
        for channel_id in self.live_channels(calendar):
            with self._lock:
                channel = self.channels[channel_id]
                channel["number"] += 1
                sent.append((channel["address"], self.headers(channel_id, "exists")))
        return sent

    def headers(self, channel_id: str, state: str) -> dict[str, str]:
        channel = self.channels[channel_id]
        expires = channel["expires_at"].strftime("%a, %d %b %Y %H:%M:%S GMT")
        return {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": channel["token"],
            "X-Goog-Channel-Expiration": expires,
            "X-Goog-Resource-ID": channel["resourceId"],
            "X-Goog-Resource-URI": f"{self.api_url}/calendars/{channel['calendar']}/events",
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel["number"]),
        }

    # --- the server -------------------------------------------------------------------------

    def _next(self) -> int:
        self._last = next(self._seq)
        return self._last

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/o/oauth2/v2/auth":
            return self._consent(query)
        if parts.path == "/o/oauth2/token":
            return self._token({k: v[0] for k, v in parse_qs(body.decode()).items()})
        if parts.path == "/calendar/v3/channels/stop" and method == "POST":
            return self._stop(json.loads(body or b"{}"))
        if parts.path.startswith("/calendar/v3/calendars/"):
            with self._lock:
                self.calls.append((method, parts.path))
            if self.down:
                return 503, _error(503, "backendError"), {"Retry-After": str(self.retry_after)}
            auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            if auth.removeprefix("Bearer ") not in self.access_tokens:
                return 401, _error(401, "authError"), {}
            rest = parts.path.removeprefix("/calendar/v3/calendars/").split("/")
            with self._lock:
                answer = self._calendar(method, rest, query, json.loads(body or b"{}"))
            if self.lose_answers and method != "GET":
                return 503, _error(503, "backendError"), {"Retry-After": str(self.retry_after)}
            return answer
        return 404, _error(404, "notFound"), {}

    def _consent(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The consent page, already agreed to: straight back to the app with a code."""
        self.consents.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {"error": "invalid_request"}, {}
        code = f"code-{secrets.token_hex(8)}"
        self.codes[code] = query
        back = (
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        return 302, None, {"Location": back}

    def _token(self, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}, {}
        access = f"ya29.{secrets.token_hex(12)}"
        if form.get("grant_type") == "authorization_code":
            asked = self.codes.pop(form.get("code", ""), None)
            if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant"}, {}
            refresh = f"1//{secrets.token_hex(12)}"
            with self._lock:
                self.refresh_tokens[refresh] = True
                self.access_tokens.add(access)
            return 200, {
                "access_token": access, "expires_in": 3599, "refresh_token": refresh,
                "scope": asked.get("scope"), "token_type": "Bearer",
            }, {}  # fmt: skip
        if form.get("grant_type") == "refresh_token":
            if not self.refresh_tokens.get(form.get("refresh_token", "")):
                revoked = {"error": "invalid_grant", "error_description": "Token has been revoked."}
                return 400, revoked, {}
            with self._lock:
                self.access_tokens.add(access)
            return 200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}, {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _calendar(
        self, method: str, rest: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        calendar = rest[0]
        if rest[1:] == ["events", "watch"] and method == "POST":
            return self._watch(calendar, body)
        if len(rest) == 2 and rest[1] == "events":
            if method == "GET":
                return self._list(calendar, query)
            if method == "POST":
                if body["id"] in self.events:
                    return 409, _error(409, "duplicate"), {}
                self.events[body["id"]] = Stored(body, self._next(), calendar)
                self.inserted[body["id"]] += 1
                return 200, body, {}
        if len(rest) == 3 and rest[1] == "events":
            stored = self.events.get(rest[2])
            if stored is None:
                return 404, _error(404, "notFound"), {}
            if method in ("PUT", "PATCH"):
                stored.body = {**stored.body, **body} if method == "PATCH" else body
                stored.seq = self._next()
                return 200, stored.body, {}
            if method == "DELETE":
                if stored.body.get("status") == "cancelled":
                    return 410, _error(410, "deleted"), {}
                stored.body["status"] = "cancelled"
                stored.seq = self._next()
                return 204, None, {}
        return 404, _error(404, "notFound"), {}

    def _watch(self, calendar: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if body.get("type") != "web_hook" or not body.get("address") or not body.get("id"):
            return 400, _error(400, "invalid"), {}
        if body["id"] in self.channels:
            return 400, _error(400, "channelIdNotUnique"), {}
        ttl = timedelta(seconds=int(body.get("params", {}).get("ttl", 604800)))
        expires = self.clock() + min(ttl, timedelta(days=7))
        self.channels[body["id"]] = {
            "calendar": calendar, "address": body["address"], "token": body.get("token", ""),
            "resourceId": f"resource-{calendar}", "expires_at": expires, "stopped": False,
            "number": 1,
        }  # fmt: skip
        return 200, {
            "kind": "api#channel", "id": body["id"], "resourceId": f"resource-{calendar}",
            "resourceUri": f"{self.api_url}/calendars/{calendar}/events",
            "token": body.get("token"), "expiration": str(int(expires.timestamp() * 1000)),
        }, {}  # fmt: skip

    def _stop(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            channel = self.channels.get(body.get("id", ""))
            if channel is None or channel["resourceId"] != body.get("resourceId"):
                return 404, _error(404, "notFound"), {}
            channel["stopped"] = True
        return 204, None, {}

    def _list(self, calendar: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        size = min(int(query.get("maxResults", 250)), self.page_size)
        if "syncToken" in query:
            since = int(query["syncToken"].removeprefix("s"))
            if since < self.oldest_sync:
                return 410, _error(410, "fullSyncRequired"), {}
            rows = [s for s in self.events.values() if s.seq > since]
        else:
            floor = query.get("timeMin")
            rows = [
                s
                for s in self.events.values()
                if s.body.get("status") != "cancelled"
                and (
                    floor is None
                    or _end(s.body) > datetime.fromisoformat(floor.replace("Z", "+00:00"))
                )
            ]
        rows = sorted((s for s in rows if s.calendar == calendar), key=lambda s: s.seq)
        offset = int(query.get("pageToken", "0"))
        page = rows[offset : offset + size]
        answer: dict[str, Any] = {"kind": "calendar#events", "items": [s.body for s in page]}
        if offset + size < len(rows):
            answer["nextPageToken"] = str(offset + size)
        else:
            answer["nextSyncToken"] = f"s{self._last}"
        return 200, answer, {}


def _end(body: dict[str, Any]) -> datetime:
    end = body.get("end", {})
    if "dateTime" in end:
        return datetime.fromisoformat(end["dateTime"].replace("Z", "+00:00"))
    return datetime.fromisoformat(end["date"]).replace(tzinfo=UTC) + timedelta(days=1)


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, reason: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": reason, "errors": [{"reason": reason}]}}
