"""The Zoom seam: the only module that imports zoomus (and asks Zoom for tokens).

zoomus's `ZoomClient` fetches a new Server-to-Server token whenever one is constructed, and a
new token ends the ones before it: with several workers that would be a token per job, each
cutting off the others. So zoomus's meeting component is built directly and fed the one token
all processes share (`holdfast.integrations.zoom.tokens`); the token itself is asked for here
with one POST. zoomus is synchronous (requests): each call runs in a thread, with zoomus's own
socket timeout and an overall one. Above this module: the `Meeting` dataclass and three errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import requests
from holdfast.jobs.registry import RetryLater
from holdfast.settings import Settings
from zoomus.components.meeting import MeetingComponentV2
from zoomus.util import API_VERSION_2

T = TypeVar("T")
PAGE_SIZE = 300


class ZoomUnavailable(RetryLater):
    """Zoom is down, slow or asked us to wait (5xx, 429, a timeout): try again later."""


class ZoomRefused(Exception):
    """Zoom refused the app's credentials or the request (a 4xx that a retry will not fix)."""


class TokenRejected(Exception):
    """401 with the shared token: it was replaced or has expired; fetch or re-read it."""


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    join_url: str
    agenda: str


@dataclass(frozen=True, slots=True)
class MeetingPlan:
    """What a booking's meeting should be: the marker in the agenda names the booking's claim."""

    topic: str
    agenda: str
    start: datetime
    minutes: int


async def fetch_token(settings: Settings, now: datetime) -> Token:
    """A new Server-to-Server access token (`account_credentials`). Every process shares it:
    call this only while holding the token document's lease."""
    secret = settings.zoom_client_secret
    url = f"{settings.zoom_oauth_url.rstrip('/')}/oauth/token"
    query = {"grant_type": "account_credentials", "account_id": settings.zoom_account_id or ""}
    auth = (settings.zoom_client_id or "", secret.get_secret_value() if secret else "")
    try:
        async with httpx.AsyncClient(timeout=settings.zoom_timeout_seconds) as http:
            answer = await http.post(url, params=query, auth=auth)
    except httpx.HTTPError as exc:
        raise ZoomUnavailable(f"Zoom's token endpoint did not answer: {exc!r}") from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise ZoomUnavailable(
            f"Zoom's token endpoint answered {answer.status_code}", after=_after(answer.headers)
        )
    if answer.status_code != 200:
        raise ZoomRefused(f"Zoom refused the app's credentials ({answer.status_code})")
    body = answer.json()
    return Token(body["access_token"], now + timedelta(seconds=int(body.get("expires_in", 3600))))


def _after(headers: Any) -> timedelta | None:
    value = headers.get("retry-after") if headers is not None else None
    return timedelta(seconds=int(value)) if value and str(value).isdigit() else None


def _component(settings: Settings, token: str) -> MeetingComponentV2:
    config = {"token": token, "version": API_VERSION_2, "data_type": "json"}
    return MeetingComponentV2(
        base_uri=settings.zoom_api_url.rstrip("/"),
        config=config,
        timeout=max(1, int(settings.zoom_timeout_seconds)),
    )


def _checked(response: requests.Response, *, missing_ok: bool = False) -> dict[str, Any]:
    status = response.status_code
    if status == 401:
        raise TokenRejected()
    if status == 404 and missing_ok:
        return {}
    if status >= 500 or status == 429:
        raise ZoomUnavailable(f"Zoom answered {status}", after=_after(response.headers))
    if status >= 400:
        raise ZoomRefused(f"Zoom answered {status}: {response.text[:200]}")
    if status == 204 or not response.content:
        return {}
    body: dict[str, Any] = response.json()
    return body


async def _in_thread(settings: Settings, work: Callable[[], T]) -> T:
    limit = settings.zoom_timeout_seconds * 2
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), limit)
    except TimeoutError:
        raise ZoomUnavailable(f"Zoom took longer than {limit:.0f} s") from None
    except requests.RequestException as exc:  # refused, reset, timed out
        raise ZoomUnavailable(f"Zoom did not answer: {exc!r}") from None


async def create_meeting(settings: Settings, token: str, plan: MeetingPlan) -> Meeting:
    def work() -> Meeting:
        answer = _component(settings, token).create(
            user_id=settings.zoom_user,
            topic=plan.topic,
            agenda=plan.agenda,
            type=2,  # scheduled
            start_time=plan.start.astimezone(UTC),  # zoomus writes it as ...Z, unconverted
            duration=plan.minutes,
            timezone="UTC",
        )
        body = _checked(answer)
        return Meeting(str(body["id"]), str(body["join_url"]), str(body.get("agenda", "")))

    return await _in_thread(settings, work)


async def find_meeting(settings: Settings, token: str, marker: str) -> Meeting | None:
    """The host's upcoming meeting whose agenda carries `marker`, if Zoom made one."""

    def work() -> Meeting | None:
        component = _component(settings, token)
        page_token = ""
        while True:
            query: dict[str, Any] = {"user_id": settings.zoom_user, "type": "upcoming"}
            query["page_size"] = PAGE_SIZE
            if page_token:
                query["next_page_token"] = page_token
            body = _checked(component.list(**query))
            for item in body.get("meetings", []):
                if marker in str(item.get("agenda", "")):
                    return Meeting(str(item["id"]), str(item["join_url"]), str(item["agenda"]))
            page_token = str(body.get("next_page_token") or "")
            if not page_token:
                return None

    return await _in_thread(settings, work)


async def move_meeting(settings: Settings, token: str, meeting_id: str, plan: MeetingPlan) -> None:
    def work() -> None:
        answer = _component(settings, token).update(
            id=meeting_id,
            start_time=plan.start.astimezone(UTC),
            duration=plan.minutes,
            timezone="UTC",
        )
        _checked(answer)

    await _in_thread(settings, work)


async def delete_meeting(settings: Settings, token: str, meeting_id: str) -> None:
    """Delete the meeting; one that is gone already is as good as deleted."""

    def work() -> None:
        _checked(_component(settings, token).delete(id=meeting_id), missing_ok=True)

    await _in_thread(settings, work)
