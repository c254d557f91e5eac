"""Delivering messages: what a provider's answer means, and one send per message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

START = "2027-03-03T11:00:00Z"  # Wednesday; the test clock starts on Monday 06:00Z


@pytest.fixture(params=[(204, None), (200, [{"sid": "SM1"}]), (202, "queued")], ids=str)
def sms(request: pytest.FixtureRequest) -> Any:
    """A gateway that accepts each message with a success that is not `{"sid": "..."}`."""
    server = SmsServer(accepted=request.param).start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url)


async def test_any_success_from_the_sms_gateway_counts_as_sent(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
    clock: Clock,
) -> None:
    me = await register(client, phone="+447700900123")
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=me)).status_code == 201
    outcomes = await run_all_due(ctx, settings)
    for _ in range(3):  # had it failed, its retries would come due within these hours
        clock.advance(hours=1)
        outcomes += await run_all_due(ctx, settings)
    assert outcomes == ["succeeded"]
    assert [m["To"] for m in sms.received] == ["+447700900123"]
    messages = (await client.get("/api/admin/messages", headers=practice.admin)).json()
    [text] = [m for m in messages if m["channel"] == "sms"]
    assert text["status"] == "sent" and text["last_error"] is None
