"""Google push channels against the fake Google: a channel per connected calendar, opened once
connected; a notification verified by the channel's token and read at once; renewal before
expiry; stopped on disconnect."""

from __future__ import annotations

import httpx
import pytest
from holdfast.context import Context
from holdfast.inbox.models import Delivery
from holdfast.inbox.service import enqueue_received
from holdfast.integrations.google import channels
from holdfast.integrations.models import ExternalBusy, GoogleConnection
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes.google import FakeGoogle
from tests.integration.test_google_calendar import at, connect, starts
from tests.support import Practice, run_all_due


@pytest.fixture
def settings(settings: Settings, google: FakeGoogle, clock: Clock) -> Settings:
    google.clock = clock
    return settings.model_copy(
        update={**google.settings(), "google_timeout_seconds": 5.0, "google_push": True}
    )


async def notify(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """Post a notification as Google does (no body), to our own app."""
    return await client.post(channels.WEBHOOK_PATH, headers=headers)


async def read_notifications(ctx: Context, settings: Settings) -> None:
    """What the promoter and the worker do with stored notifications."""
    await enqueue_received(ctx)
    await run_all_due(ctx, settings)


async def test_a_change_in_the_calendar_is_read_when_google_says_so(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
    clock: Clock,
) -> None:
    await connect(client, practice, practice.london)
    await run_all_due(ctx, settings)  # the first read, and the channel opened
    [first] = google.live_channels()
    connection = await GoogleConnection.get(practice.london)
    assert connection is not None and connection.channel_id == first
    assert google.channels[first]["address"] == "http://127.0.0.1:8000/webhooks/google/calendar"
    assert "2027-03-03T10:00:00Z" in await starts(client, practice)

    # The practitioner adds an appointment; Google tells us; it is read at once.
    google.add_busy(at("10:00"), at("11:00"))
    [(_, headers)] = google.notifications()
    for _ in range(2):  # Google may send a message twice: stored once
        answered = await notify(client, headers)
        assert answered.status_code == 204, answered.text
    assert await Delivery.find({"source": "google"}).count() == 1
    await read_notifications(ctx, settings)
    assert await ExternalBusy.find({"provider_id": connection.id}).count() == 1
    assert "2027-03-03T10:00:00Z" not in await starts(client, practice)
    [delivery] = await Delivery.find({"source": "google"}).to_list()
    assert delivery.status == "processed" and delivery.result == {"full": False, "changed": 1}

    # A forged notification (not the channel's token) is refused and stores nothing.
    forged = await notify(client, {**headers, "X-Goog-Channel-Token": "guess"})
    assert (forged.status_code, forged.json()["error"]) == (403, "invalid_channel_token")
    nothing = await notify(client, {})
    assert nothing.status_code == 403
    # The channel's opening message ("sync") says nothing changed.
    hello = await notify(client, google.headers(first, "sync"))
    assert hello.status_code == 204
    assert await Delivery.find({"source": "google"}).count() == 1

    # A day before the week is over, the hourly job opens a new channel and stops the old one;
    # what the old one still sends is acknowledged and ignored.
    clock.advance(days=5, hours=23)
    await channels.renew_all(ctx, None)  # type: ignore[arg-type]
    assert google.live_channels() == [first]  # not due yet
    clock.advance(hours=2)
    await channels.renew_all(ctx, None)  # type: ignore[arg-type]
    [second] = google.live_channels()
    assert second != first and google.channels[first]["stopped"]
    late = await notify(client, google.headers(first, "exists"))
    assert late.status_code == 204
    assert await Delivery.find({"source": "google"}).count() == 1

    # Disconnecting stops the channel.
    gone = await client.delete(
        f"/api/admin/providers/{practice.london}/google", headers=practice.admin
    )
    assert gone.status_code == 204, gone.text
    assert google.live_channels() == [] and google.channels[second]["stopped"]
    after = await notify(client, google.headers(second, "exists"))
    assert after.status_code == 204
    assert await Delivery.find({"source": "google"}).count() == 1


async def test_a_channel_google_would_not_open_is_opened_by_the_hourly_job(
    client: httpx.AsyncClient,
    practice: Practice,
    google: FakeGoogle,
    ctx: Context,
    settings: Settings,
) -> None:
    google.down = True
    await connect(client, practice, practice.london)
    await run_all_due(ctx, settings)
    assert google.live_channels() == []
    google.down = False
    await channels.renew_all(ctx, None)  # type: ignore[arg-type]
    assert len(google.live_channels()) == 1
