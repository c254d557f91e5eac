"""The client's account through the API: `PATCH /api/me` changes only what is sent, checks what
it is given, and the choices take effect (the phone gets the SMS, reminder emails can be off)."""

from __future__ import annotations

import httpx
import pytest
from holdfast.context import Context
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

START = "2027-03-03T11:00:00Z"  # Wednesday; the test clock starts on Monday 06:00Z


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url)


async def test_patch_me_changes_only_what_is_sent_and_refuses_bad_values(
    client: httpx.AsyncClient,
) -> None:
    me = await register(client, email="lee@example.com", name="Lee", timezone="Europe/London")
    user = (await client.get("/api/me", headers=me)).json()
    assert user["phone"] is None and user["reminder_emails"] is True

    changed = await client.patch("/api/me", json={"phone": "+447700900555"}, headers=me)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**user, "phone": "+447700900555"}

    for bad, code in [
        ({"phone": "07700 900555"}, "invalid"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"name": "Lee\nBcc: x@example.com"}, "invalid_name"),
        ({"email": "other@example.com"}, "invalid"),  # not changeable here
        ({"role": "admin"}, "invalid"),
    ]:
        refused = await client.patch("/api/me", json=bad, headers=me)
        assert refused.status_code == 422, (bad, refused.text)
        if code != "invalid":
            assert refused.json()["error"] == code, refused.text
    assert (await client.get("/api/me", headers=me)).json()["phone"] == "+447700900555"

    both = await client.patch(
        "/api/me",
        json={"name": "Lee Chan", "timezone": "Asia/Tokyo", "phone": None},
        headers=me,
    )
    assert both.status_code == 200
    after = (await client.get("/api/me", headers=me)).json()
    assert (after["name"], after["timezone"], after["phone"]) == ("Lee Chan", "Asia/Tokyo", None)
    assert (await client.patch("/api/me", json={}, headers=me)).json() == after
    assert (await client.patch("/api/me", json={"name": "x"})).status_code == 401


async def test_reminders_follow_the_phone_and_the_email_choice(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    smtp: SmtpSink,
    sms: SmsServer,
    clock: Clock,
) -> None:
    me = await register(client, email="max@example.com")
    chose = await client.patch(
        "/api/me", json={"phone": "+447700900666", "reminder_emails": False}, headers=me
    )
    assert chose.status_code == 200, chose.text
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=me)).status_code == 201
    await run_all_due(ctx, settings)  # the confirmation: always by email (and SMS)
    clock.advance(hours=30)  # past the reminder, a day before the start
    await run_all_due(ctx, settings)

    subjects = [str(m["Subject"]) for m in smtp.messages if m["To"] == "max@example.com"]
    assert [s.split(":")[0] for s in subjects] == ["Confirmed"]
    texts = [m["Body"] for m in sms.received if m["To"] == "+447700900666"]
    assert len(texts) == 2 and any("eminder" in t for t in texts), texts
