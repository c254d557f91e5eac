"""A fake Zoom on loopback: the Server-to-Server token endpoint and meetings (create, list,
update, delete), as far as Holdfast uses them, driven by the real zoomus.

Like Zoom, a new token ends the one before it, so a fleet of processes that each fetched their
own would cut each other off: the fake counts the tokens it issued. A test can take it down
(503 with Retry-After) or make a create stall after the meeting exists and before the 201 is
sent (a worker killed then has made a meeting it never heard of).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from tests.fakes import LoopbackHttp

ACCOUNT_ID = "zoom-account"
CLIENT_ID = "zoom-client"
CLIENT_SECRET = "zoom-secret"


@dataclass
class FakeZoom(LoopbackHttp):
    down: bool = False
    retry_after: int = 1
    stall_create_seconds: float = 0.0  # after making the meeting, before answering
    created: threading.Event = field(default_factory=threading.Event)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens_issued: int = 0
    token: str | None = None  # the only valid one: the last issued
    refused_tokens: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(81000000001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.url}/v2"

    def settings(self) -> dict[str, Any]:
        """What points Holdfast at this fake (an update for `Settings.model_copy`)."""
        return {
            "zoom_account_id": ACCOUNT_ID,
            "zoom_client_id": CLIENT_ID,
            "zoom_client_secret": SecretStr(CLIENT_SECRET),
            "zoom_api_url": self.api_url,
            "zoom_oauth_url": self.url,
        }

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        lower = {k.lower(): v for k, v in headers.items()}
        if parts.path == "/oauth/token":
            return self._token(query, lower.get("authorization", ""))
        if self.down:
            return 503, {"code": 503, "message": "down"}, {"Retry-After": str(self.retry_after)}
        with self._lock:
            if lower.get("authorization", "") != f"Bearer {self.token}" or self.token is None:
                self.refused_tokens += 1
                return 401, {"code": 124, "message": "Invalid access token."}, {}
        path = parts.path.removeprefix("/v2")
        if path.startswith("/users/") and path.endswith("/meetings"):
            if method == "POST":
                return self._create(json.loads(body or b"{}"))
            if method == "GET":
                return self._list(query)
        if path.startswith("/meetings/"):
            meeting_id = path.removeprefix("/meetings/")
            with self._lock:
                meeting = self.meetings.get(meeting_id)
                if meeting is None:
                    return 404, {"code": 3001, "message": "Meeting does not exist."}, {}
                if method == "PATCH":
                    changes = json.loads(body or b"{}")
                    meeting.update(
                        {k: changes[k] for k in ("start_time", "duration") if k in changes}
                    )
                    return 204, None, {}
                if method == "DELETE":
                    del self.meetings[meeting_id]
                    return 204, None, {}
        return 404, {"code": 404, "message": "Not found"}, {}

    def _token(self, query: dict[str, str], authorization: str) -> tuple[int, Any, dict[str, str]]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}" or query.get("account_id") != ACCOUNT_ID:
            return (
                400,
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                {},
            )
        if query.get("grant_type") != "account_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        with self._lock:
            self.tokens_issued += 1
            self.token = f"zoom-token-{self.tokens_issued}"  # the one before no longer works
            return 200, {
                "access_token": self.token, "token_type": "bearer", "expires_in": 3599,
                "scope": "meeting:write:admin",
            }, {}  # fmt: skip

    def _create(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            meeting_id = str(next(self._ids))
            meeting = {
                "id": int(meeting_id),
                "topic": request.get("topic"),
                "agenda": request.get("agenda", ""),
                "start_time": request.get("start_time"),
                "duration": request.get("duration"),
                "join_url": f"https://zoom.example/j/{meeting_id}",
                "type": 2,
            }
            self.meetings[meeting_id] = meeting
        self.created.set()
        if self.stall_create_seconds:
            threading.Event().wait(self.stall_create_seconds)
        return 201, meeting, {}

    def _list(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        size = int(query.get("page_size", 30))
        offset = int(query.get("next_page_token") or 0)
        with self._lock:
            rows = list(self.meetings.values())
        page = rows[offset : offset + size]
        following = str(offset + size) if offset + size < len(rows) else ""
        return 200, {"page_size": size, "total_records": len(rows), "meetings": page,
                     "next_page_token": following}, {}  # fmt: skip
