"""A video session's Zoom link lands in the provider's Google Calendar event too."""

from __future__ import annotations

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes.google import FakeGoogle
from tests.fakes.zoom import FakeZoom
from tests.integration.test_google_calendar import connect
from tests.integration.test_zoom_meetings import book, settle, video_service
from tests.support import Practice, register


@pytest.fixture
def settings(settings: Settings, google: FakeGoogle, zoom: FakeZoom) -> Settings:
    return settings.model_copy(
        update={**google.settings(), **zoom.settings(), "job_timeout_seconds": 20}
    )


async def test_the_google_event_of_a_video_session_carries_its_join_link(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    zoom: FakeZoom,
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
