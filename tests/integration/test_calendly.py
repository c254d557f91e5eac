"""Calendly: "Book now" tokens, signed webhooks, and bookings bound to the right person."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from holdfast.calendly.models import CalendlyDelivery
from holdfast.calendly.service import enqueue_received
from holdfast.calendly.signature import sign
from holdfast.context import Context
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import CalendlyApi, SmtpSink
from tests.support import Practice, register, run_all_due

KEY = "calendly-signing-key"
API = "https://api.calendly.com"
START = "2027-03-03T11:00:00.000000Z"  # Wednesday, inside London's hours


@pytest.fixture
def calendly() -> Iterator[CalendlyApi]:
    api = CalendlyApi().start()
    yield api
    api.stop()


@pytest.fixture
async def linked(client: httpx.AsyncClient, practice: Practice) -> Practice:
    """Ada (London) hosts the practice's Calendly events."""
    body = {"name": "Ada", "timezone": "Europe/London", "calendly_user_uri": f"{API}/users/ADA"}
    updated = await client.put(
        f"/api/admin/providers/{practice.london}", json=body, headers=practice.admin
    )
    assert updated.status_code == 200, updated.text
    return practice


@pytest.fixture
def settings(settings: Settings, calendly: CalendlyApi, smtp: SmtpSink) -> Settings:
    return settings.model_copy(
        update={
            "calendly_signing_key": SecretStr(KEY),
            "calendly_api_url": calendly.url,
            "calendly_token": SecretStr("calendly-api-token"),
            "calendly_scheduling_url": "https://calendly.com/holdfast/session",
            "smtp_url": smtp.url,
        }
    )


def invitee_event(
    name: str,
    invitee: str,
    *,
    token: str | None = None,
    email: str = "someone@example.com",
    start: str = START,
    **extra: Any,
) -> dict[str, Any]:
    """A webhook body in Calendly's v2 shape."""
    event_uri = f"{API}/scheduled_events/EV-{invitee}"
    return {
        "event": name,
        "created_at": "2027-03-01T06:00:00.000000Z",
        "created_by": f"{API}/users/ORGOWNER",
        "payload": {
            "uri": f"{event_uri}/invitees/{invitee}",
            "email": email,
            "name": "Some One",
            "status": "canceled" if name == "invitee.canceled" else "active",
            "timezone": "Europe/London",
            "event": event_uri,
            "tracking": {
                "utm_campaign": None,
                "utm_source": "holdfast" if token else None,
                "utm_medium": "book-now" if token else None,
                "utm_content": token,
                "utm_term": None,
                "salesforce_uuid": None,
            },
            "scheduled_event": {
                "uri": event_uri,
                "name": "Session",
                "start_time": start,
                "end_time": start.replace("11:00", "12:00"),
                "event_type": f"{API}/event_types/SESSION",
                "event_memberships": [{"user": f"{API}/users/ADA"}],
            },
            "rescheduled": False,
            "old_invitee": None,
            "new_invitee": None,
            "cancel_url": f"https://calendly.com/cancellations/{invitee}",
            "reschedule_url": f"https://calendly.com/reschedulings/{invitee}",
            **extra,
        },
    }


async def deliver(
    client: httpx.AsyncClient, clock: Clock, body: dict[str, Any], **header: Any
) -> httpx.Response:
    raw = json.dumps(body).encode()
    t = header.get("t", int(clock.now.timestamp()))
    signature = header.get("signature", f"t={t},v1={sign(header.get('key', KEY), t, raw)}")
    headers = {"content-type": "application/json", "Calendly-Webhook-Signature": signature}
    return await client.post("/webhooks/calendly", content=header.get("raw", raw), headers=headers)


async def book_now(client: httpx.AsyncClient, practice: Practice, me: dict[str, str]) -> str:
    response = await client.post("/api/book-now", json={"service_id": practice.session}, headers=me)
    assert response.status_code == 200, response.text
    return parse_qs(urlsplit(response.json()["url"]).query)["utm_content"][0]


async def settle(ctx: Context, settings: Settings) -> None:
    """Run jobs until none is due (processing schedules follow-up jobs)."""
    for _ in range(5):
        await enqueue_received(ctx)  # what the promoter's tick does
        if not await run_all_due(ctx, settings):
            return


async def test_book_now_issues_a_prefilled_short_lived_link(
    client: httpx.AsyncClient, linked: Practice, clock: Clock
) -> None:
    me = await register(client, email="ann@example.com")
    response = await client.post("/api/book-now", json={"service_id": linked.session}, headers=me)
    body = response.json()
    url = urlsplit(body["url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://calendly.com/holdfast/session"
    assert query["email"] == ["ann@example.com"] and query["name"] == ["Client"]
    assert query["utm_source"] == ["holdfast"] and query["utm_content"][0].count(".") == 2
    assert body["expires_at"] == "2027-03-01T06:15:00Z"
    second = await book_now(client, linked, me)
    assert second != query["utm_content"][0]  # a fresh token every time
    assert (
        await client.post("/api/book-now", json={"service_id": linked.session})
    ).status_code == 401
    missing = await client.post("/api/book-now", json={"service_id": "nope"}, headers=me)
    assert missing.status_code == 404
    assert {s["calendly"] for s in (await client.get("/api/services")).json()} == {True}


async def test_only_a_valid_fresh_signature_is_accepted(
    client: httpx.AsyncClient, linked: Practice, clock: Clock
) -> None:
    body = invitee_event("invitee.created", "SIG")
    raw = json.dumps(body).encode()
    now = int(clock.now.timestamp())
    good = sign(KEY, now, raw)
    refused = [
        await deliver(client, clock, body, key="wrong-key"),
        await deliver(client, clock, body, raw=raw.replace(b"Some One", b"Some Ono")),
        await deliver(client, clock, body, t=now - 181),
        await deliver(client, clock, body, t=now + 181),
        await deliver(client, clock, body, signature=f"v1={good}"),
        await deliver(client, clock, body, signature=f"t={now}"),
        await deliver(client, clock, body, signature=f"t=soon,v1={good}"),
        await deliver(client, clock, body, signature="garbage"),
        await deliver(client, clock, body, signature=""),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["error"] for r in refused} == {"invalid_signature"}
    assert await CalendlyDelivery.find_all().count() == 0  # nothing changed
    several = await deliver(client, clock, body, signature=f"t={now},v1={'0' * 64},v1={good}")
    assert several.status_code == 200 and several.json() == {"status": "received"}


async def test_a_valid_token_binds_the_booking_to_its_user_once(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
    smtp: SmtpSink,
) -> None:
    me = await register(client, email="ann@example.com")
    token = await book_now(client, linked, me)
    # The invitee may type any name and email into Calendly; the token says who it is.
    assert (
        await deliver(
            client,
            clock,
            invitee_event("invitee.created", "INV1", token=token, email="typo@example.com"),
        )
    ).status_code == 200
    await settle(ctx, settings)
    [booking] = (await client.get("/api/bookings", headers=me)).json()
    assert (booking["start"], booking["source"], booking["status"]) == (
        "2027-03-03T11:00:00Z",
        "calendly",
        "confirmed",
    )
    assert booking["provider_id"] == linked.london

    reused = await deliver(
        client,
        clock,
        invitee_event("invitee.created", "INV2", token=token, start="2027-03-04T11:00:00Z"),
    )
    assert reused.status_code == 200
    await settle(ctx, settings)
    assert len((await client.get("/api/bookings", headers=me)).json()) == 1
    rejected = await CalendlyDelivery.get(
        "invitee.created:" + f"{API}/scheduled_events/EV-INV2/invitees/INV2"
    )
    assert rejected is not None and (rejected.status, rejected.reason) == (
        "rejected",
        "scheduling token already used",
    )
    assert [c["uuid"] for c in calendly.cancellations] == ["EV-INV2"]
    assert calendly.cancellations[0]["auth"] == "Bearer calendly-api-token"
    assert "Please book through Holdfast" in calendly.cancellations[0]["reason"]
    told = [m for m in smtp.messages if "please book through Holdfast" in str(m["Subject"])]
    assert [m["To"] for m in told] == ["someone@example.com"]


async def test_no_token_or_an_expired_one_is_outside_policy(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    me = await register(client, email="victim@example.com")
    # Someone types another person's email into Calendly, with no token.
    await deliver(
        client, clock, invitee_event("invitee.created", "NOTOKEN", email="victim@example.com")
    )
    leaked = await book_now(client, linked, me)
    clock.advance(minutes=16)  # a leaked link used after it expired
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", "LATE", token=leaked, start="2027-03-04T11:00:00Z"),
    )
    await settle(ctx, settings)
    assert (await client.get("/api/bookings", headers=me)).json() == []
    reasons = {
        d.invitee_uri.rsplit("/", 1)[-1]: d.reason
        for d in await CalendlyDelivery.find_all().to_list()
    }
    assert reasons == {
        "NOTOKEN": "no scheduling token: booked outside Holdfast",
        "LATE": "expired scheduling token",
    }
    assert sorted(c["uuid"] for c in calendly.cancellations) == ["EV-LATE", "EV-NOTOKEN"]


async def test_a_calendly_booking_that_collides_is_refused_and_cancelled_there(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    internal = await register(client)
    body = {
        "service_id": linked.session,
        "provider_id": linked.london,
        "start": "2027-03-03T11:00:00Z",
    }
    assert (await client.post("/api/bookings", json=body, headers=internal)).status_code == 201
    me = await register(client)
    token = await book_now(client, linked, me)
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", "CLASH", token=token, start="2027-03-03T11:30:00Z"),
    )
    await settle(ctx, settings)
    [delivery] = await CalendlyDelivery.find_all().to_list()
    assert (delivery.status, delivery.reason) == ("rejected", "collides with an existing booking")
    assert [c["uuid"] for c in calendly.cancellations] == ["EV-CLASH"]
    # What each person sees: the Calendly booker has nothing, the internal booking stands.
    assert (await client.get("/api/bookings", headers=me)).json() == []
    [kept] = (await client.get("/api/bookings", headers=internal)).json()
    assert (kept["start"], kept["status"]) == ("2027-03-03T11:00:00Z", "confirmed")


async def test_five_identical_deliveries_at_once_have_one_effect(
    client: httpx.AsyncClient, linked: Practice, clock: Clock, ctx: Context, settings: Settings
) -> None:
    me = await register(client)
    token = await book_now(client, linked, me)
    body = invitee_event("invitee.created", "DUP", token=token)
    responses = await asyncio.gather(*(deliver(client, clock, body) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    await settle(ctx, settings)
    assert await CalendlyDelivery.find_all().count() == 1
    assert len((await client.get("/api/bookings", headers=me)).json()) == 1


async def test_cancel_in_calendly_frees_the_slot_and_a_cancel_before_its_create_ends_cancelled(
    client: httpx.AsyncClient, linked: Practice, clock: Clock, ctx: Context, settings: Settings
) -> None:
    me = await register(client)
    token = await book_now(client, linked, me)
    await deliver(client, clock, invitee_event("invitee.created", "C1", token=token))
    await settle(ctx, settings)
    for _ in range(2):  # repeated: a no-op
        await deliver(
            client,
            clock,
            invitee_event(
                "invitee.canceled", "C1", cancellation={"reason": "ill", "canceled_by": "Some One"}
            ),
        )
        await settle(ctx, settings)
    [booking] = (await client.get("/api/bookings", headers=me)).json()
    assert (booking["status"], booking["cancel_reason"]) == ("cancelled", "ill")

    other = await book_now(client, linked, me)
    await deliver(
        client, clock, invitee_event("invitee.canceled", "C2", start="2027-03-04T11:00:00Z")
    )
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", "C2", token=other, start="2027-03-04T11:00:00Z"),
    )
    await settle(ctx, settings)
    statuses = sorted(b["status"] for b in (await client.get("/api/bookings", headers=me)).json())
    assert statuses == ["cancelled", "cancelled"]
    # The slot is free again for anyone.
    again = {
        "service_id": linked.session,
        "provider_id": linked.london,
        "start": "2027-03-04T11:00:00Z",
    }
    assert (
        await client.post("/api/bookings", json=again, headers=await register(client))
    ).status_code == 201


async def test_a_reschedule_moves_the_booking_and_keeps_one_story(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    me = await register(client)
    token = await book_now(client, linked, me)
    await deliver(client, clock, invitee_event("invitee.created", "OLD", token=token))
    await settle(ctx, settings)
    old_uri = f"{API}/scheduled_events/EV-OLD/invitees/OLD"
    new_uri = f"{API}/scheduled_events/EV-NEW/invitees/NEW"
    await deliver(
        client,
        clock,
        invitee_event("invitee.canceled", "OLD", rescheduled=True, new_invitee=new_uri),
    )
    # The new invitee carries no fresh token: it is the same person's booking, moved.
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", "NEW", start="2027-03-05T11:00:00Z", old_invitee=old_uri),
    )
    await settle(ctx, settings)
    bookings = {b["start"]: b for b in (await client.get("/api/bookings", headers=me)).json()}
    old, new = bookings["2027-03-03T11:00:00Z"], bookings["2027-03-05T11:00:00Z"]
    assert (old["status"], old["cancel_reason"], new["status"]) == (
        "cancelled",
        "rescheduled in Calendly",
        "confirmed",
    )
    old_story = (await client.get(f"/api/bookings/{old['id']}/history", headers=me)).json()
    new_story = (await client.get(f"/api/bookings/{new['id']}/history", headers=me)).json()
    assert old_story[-1]["data"]["rescheduled_to"] == new["id"]
    assert new_story[0]["data"]["rescheduled_from"] == old["id"]
    assert calendly.cancellations == []  # nothing was outside policy


async def test_a_calendly_outage_delays_the_cancellation_but_never_loses_it(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    calendly.fail = 2
    await deliver(client, clock, invitee_event("invitee.created", "DOWN"))
    await settle(ctx, settings)
    assert calendly.cancellations == []
    for _ in range(3):
        clock.advance(minutes=5)
        await settle(ctx, settings)
    assert [c["uuid"] for c in calendly.cancellations] == ["EV-DOWN"]
    jobs = (await client.get("/api/admin/jobs", headers=linked.admin)).json()
    [cancel] = [j for j in jobs if j["kind"] == "calendly.cancel"]
    assert (cancel["state"], cancel["attempts"]) == ("succeeded", 3)


async def test_a_timestamp_of_unicode_digits_is_a_bad_signature(
    client: httpx.AsyncClient, linked: Practice, clock: Clock
) -> None:
    """`"²".isdigit()` is true but `int("²")` fails: still a 403, never a 500."""
    body = invitee_event("invitee.created", "SUPERSCRIPT")
    good = sign(KEY, int(clock.now.timestamp()), json.dumps(body).encode())
    for t in ("²", "1²", "³²¹", "1_700_000_000", "+1"):
        # Header bytes are read as latin-1, where ² ³ ¹ are single bytes.
        signature = f"t={t},v1={good}".encode("latin-1")
        refused = await deliver(client, clock, body, signature=signature)
        assert (refused.status_code, refused.json()["error"]) == (403, "invalid_signature"), t
    assert await CalendlyDelivery.find_all().count() == 0
