"""The console's Messages section through the API: what was sent to whom and how its delivery
went, found by person, booking or state, with its full text and its calendar invite."""

from __future__ import annotations

from typing import Any

import httpx
from holdfast.context import Context
from holdfast.settings import Settings
from icalendar import Calendar

from tests.integration.test_console_lists import listed
from tests.support import Practice, register, run_all_due


async def outbox(
    client: httpx.AsyncClient, practice: Practice, **query: str
) -> list[dict[str, Any]]:
    return await listed(client, practice, query, "/api/admin/messages")


async def test_the_practice_finds_a_message_reads_it_and_opens_its_invite(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings
) -> None:
    me = await register(client, email="Nia.Noor@example.com", phone="+15551234567")
    body = {"service_id": practice.session, "provider_id": practice.london,
            "start": "2027-03-03T10:00:00Z"}  # fmt: skip
    made = (await client.post("/api/bookings", json=body, headers=me)).json()
    await run_all_due(ctx, settings)  # no SMTP or SMS configured: both land in the outbox

    mine = await outbox(client, practice, to="nia.noor@example.com")
    assert [(m["kind"], m["channel"], m["status"]) for m in mine] == [
        ("confirmation", "email", "outbox")
    ]
    [email] = mine
    assert (email["to"], email["booking_id"], email["attempts"], email["last_error"]) == (
        "Nia.Noor@example.com", made["id"], 0, None
    )  # fmt: skip
    assert email["subject"].startswith("Confirmed: Session")
    assert email["has_invite"] is True and email["sent_at"] is None
    # The same address however it is typed; a number; someone else: nothing.
    assert [m["id"] for m in await outbox(client, practice, to="NIA.NOOR@example.com")] == [
        email["id"]
    ]
    [sms] = await outbox(client, practice, to="+15551234567")
    assert (sms["channel"], sms["has_invite"]) == ("sms", False)
    assert await outbox(client, practice, to="someone@example.com") == []
    about = await outbox(client, practice, booking_id=made["id"])
    assert sorted(m["channel"] for m in about) == ["email", "sms"]
    assert await outbox(client, practice, status="sent") == []
    assert len(await outbox(client, practice, status="outbox")) == 2

    read = await client.get(f"/api/admin/messages/{email['id']}", headers=practice.admin)
    assert read.status_code == 200, read.text
    assert "Wednesday 3 March 2027" in read.json()["text"]
    assert read.json()["id"] == email["id"]

    invite = await client.get(
        f"/api/admin/messages/{email['id']}/invite.ics", headers=practice.admin
    )
    assert invite.status_code == 200, invite.text
    assert invite.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(invite.text).walk("VEVENT")
    assert event.decoded("dtstart").isoformat() == "2027-03-03T10:00:00+00:00"

    none = await client.get(f"/api/admin/messages/{sms['id']}/invite.ics", headers=practice.admin)
    assert (none.status_code, none.json()["error"]) == (404, "no_invite")
    for unknown in ("bm8tc3VjaC9tZXNzYWdl", "%%%", "x"):
        missing = await client.get(f"/api/admin/messages/{unknown}", headers=practice.admin)
        assert (missing.status_code, missing.json()["error"]) == (404, "message_not_found")
    refused = await client.get(
        "/api/admin/messages", params={"status": "lost"}, headers=practice.admin
    )
    assert refused.status_code == 422
    as_client = await client.get(f"/api/admin/messages/{email['id']}", headers=me)
    assert as_client.status_code == 403
