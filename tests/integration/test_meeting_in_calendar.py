"""A video session's Zoom link lands in the provider's Google Calendar event too."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import google as fake_google
from tests.fakes import zoom as fake_zoom
from tests.integration.test_google_calendar import connect
from tests.integration.test_zoom_meetings import book, settle, video_service
from tests.support import Practice, register


@pytest.fixture
def google() -> Iterator[fake_google.FakeGoogle]:
    fake = fake_google.FakeGoogle().start()
    yield fake
    fake.stop()


@pytest.fixture
def zoom() -> Iterator[fake_zoom.FakeZoom]:
    fake = fake_zoom.FakeZoom().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(
    settings: Settings, google: fake_google.FakeGoogle, zoom: fake_zoom.FakeZoom
) -> Settings:
    return settings.model_copy(
        update={
            "google_client_id": fake_google.CLIENT_ID,
            "google_client_secret": SecretStr(fake_google.CLIENT_SECRET),
            "google_api_url": google.api_url,
            "google_oauth_url": google.url,
            "zoom_account_id": fake_zoom.ACCOUNT_ID,
            "zoom_client_id": fake_zoom.CLIENT_ID,
            "zoom_client_secret": SecretStr(fake_zoom.CLIENT_SECRET),
            "zoom_api_url": zoom.api_url,
            "zoom_oauth_url": zoom.url,
            "job_timeout_seconds": 20,
        }
    )


async def test_the_google_event_of_a_video_session_carries_its_join_link(
    client: httpx.AsyncClient,
    practice: Practice,
    google: fake_google.FakeGoogle,
    zoom: fake_zoom.FakeZoom,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    await connect(client, practice, practice.london)
    service = await video_service(client, practice)
    await book(client, practice, service, await register(client))
    await settle(ctx, settings, clock)
    [meeting] = zoom.meetings.values()
    [event] = google.ours().values()
    assert event["location"] == meeting["join_url"]
    assert meeting["join_url"] in event["description"]
