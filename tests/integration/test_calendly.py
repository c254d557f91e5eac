"""Calendly: "Book now" tokens, signed webhooks, and bookings bound to the right person."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from holdfast.calendly.models import CalendlyDelivery
from holdfast.calendly.service import enqueue_received
from holdfast.calendly.signature import sign
from holdfast.clock import iso_z
from holdfast.context import Context
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.fakes import CalendlyApi, SmtpSink
from tests.integration.conftest import STEP_DOWN, WRITE_CONCERN_TIMEOUT, FailCommands
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
    minutes: int = 60,
    **extra: Any,
) -> dict[str, Any]:
    """A webhook body in Calendly's v2 shape."""
    event_uri = f"{API}/scheduled_events/EV-{invitee}"
    end = iso_z(datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(minutes=minutes))
    return {
        "event": name,
        "created_at": None,  # when it happened in Calendly; `deliver` stamps the clock's now
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
                "end_time": end,
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
    body = {**body, "created_at": body["created_at"] or iso_z(clock.now)}
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
    body = {**invitee_event("invitee.created", "SIG"), "created_at": iso_z(clock.now)}
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
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
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
    assert calendly.cancellations == []  # what Calendly cancelled is not cancelled there again


def invitee_uri(invitee: str) -> str:
    return f"{API}/scheduled_events/EV-{invitee}/invitees/{invitee}"


async def reschedule(
    client: httpx.AsyncClient, clock: Clock, old: str, new: str, start: str
) -> None:
    """What Calendly sends when an invitee reschedules: the old invitee is cancelled, a new
    one created (without a fresh token: it is the same person's booking, moved)."""
    await deliver(
        client,
        clock,
        invitee_event("invitee.canceled", old, rescheduled=True, new_invitee=invitee_uri(new)),
    )
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", new, start=start, old_invitee=invitee_uri(old)),
    )


async def deliveries(client: httpx.AsyncClient, practice: Practice) -> dict[str, tuple[Any, ...]]:
    """What the admin sees of each delivery: (event, status, reason) by invitee."""
    found = (await client.get("/api/admin/calendly", headers=practice.admin)).json()
    return {
        f"{d['event']}:{d['invitee_uri'].rsplit('/', 1)[-1]}": (d["status"], d["reason"])
        for d in found
    }


async def test_a_reschedule_30_minutes_later_moves_the_same_booking(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
    smtp: SmtpSink,
) -> None:
    """A 60-minute session moved 30 minutes later overlaps its own old interval: the move frees
    the old interval and claims the new one in one transaction, so it cannot collide with
    itself."""
    me = await register(client)
    token = await book_now(client, linked, me)
    await deliver(client, clock, invitee_event("invitee.created", "OLD", token=token))
    await settle(ctx, settings)
    [before] = (await client.get("/api/bookings", headers=me)).json()
    clock.advance(minutes=5)
    await reschedule(client, clock, "OLD", "NEW", "2027-03-03T11:30:00.000000Z")
    await settle(ctx, settings)

    [moved] = (await client.get("/api/bookings", headers=me)).json()
    assert (moved["id"], moved["status"]) == (before["id"], "confirmed")
    assert (moved["start"], moved["end"]) == ("2027-03-03T11:30:00Z", "2027-03-03T12:30:00Z")
    story = (await client.get(f"/api/bookings/{moved['id']}/history", headers=me)).json()
    assert [(h["action"], h["actor"]) for h in story] == [
        ("created", "calendly"),
        ("rescheduled", "calendly"),
    ]
    assert story[1]["data"]["previous_start"] == "2027-03-03T11:00:00+00:00"
    assert story[1]["data"]["start"] == "2027-03-03T11:30:00+00:00"
    assert (story[1]["data"]["calendly_invitee"], story[1]["data"]["rescheduled_from"]) == (
        invitee_uri("NEW"),
        invitee_uri("OLD"),
    )
    assert calendly.cancellations == []  # nothing was outside policy
    assert await deliveries(client, linked) == {
        "invitee.created:OLD": ("booked", None),
        "invitee.canceled:OLD": ("cancelled", None),
        "invitee.created:NEW": ("booked", None),
    }
    # The console names who booked and when, as Calendly said it.
    listed = (await client.get("/api/admin/calendly", headers=linked.admin)).json()
    newest = next(d for d in listed if d["invitee_uri"] == invitee_uri("NEW"))
    assert (newest["invitee_name"], newest["start"]) == ("Some One", "2027-03-03T11:30:00Z")
    assert newest["invitee_email"] and "@" in newest["invitee_email"]
    # The old interval is free: 10:00 (with its 15-minute buffer after) no longer touches it,
    # and 12:00 is inside the new one.
    other = await register(client)
    ten = {"service_id": linked.session, "provider_id": linked.london}
    ten_response = await client.post(
        "/api/bookings", json={**ten, "start": "2027-03-03T10:00:00Z"}, headers=other
    )
    assert ten_response.status_code == 201, ten_response.text
    noon = await client.post(
        "/api/bookings", json={**ten, "start": "2027-03-03T12:00:00Z"}, headers=other
    )
    assert noon.status_code == 409

    # The client hears of the new time, and is reminded of it (only of it) a day before.
    clock.advance(days=1, hours=6)  # Tuesday 12:00, past both reminder times
    await settle(ctx, settings)
    subjects = [
        str(m["Subject"]).strip() for m in smtp.messages if m["To"] == smtp.messages[0]["To"]
    ]
    assert [s.split(",")[-1].split()[0] for s in subjects] == ["11:00", "11:30", "11:30"]
    assert [s.split(":")[0] for s in subjects] == ["Confirmed", "Confirmed", "Reminder"]

    # The booking now follows the new invitee: cancelling it in Calendly cancels the booking.
    await deliver(client, clock, invitee_event("invitee.canceled", "NEW"))
    await settle(ctx, settings)
    [cancelled] = (await client.get("/api/bookings", headers=me)).json()
    assert cancelled["status"] == "cancelled"


async def test_a_reschedule_onto_a_taken_time_keeps_the_booking_where_it_was(
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
    taken = {
        "service_id": linked.session,
        "provider_id": linked.london,
        "start": "2027-03-03T13:00:00Z",
    }
    assert (
        await client.post("/api/bookings", json=taken, headers=await register(client))
    ).status_code == 201
    await reschedule(client, clock, "OLD", "NEW", "2027-03-03T12:30:00.000000Z")
    await settle(ctx, settings)
    [kept] = (await client.get("/api/bookings", headers=me)).json()
    assert (kept["start"], kept["status"]) == ("2027-03-03T11:00:00Z", "confirmed")
    assert (await deliveries(client, linked))["invitee.created:NEW"] == (
        "rejected",
        "collides with an existing booking",
    )
    assert [c["uuid"] for c in calendly.cancellations] == ["EV-NEW"]


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


async def test_a_database_step_down_while_booking_retries_instead_of_refusing(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
    smtp: SmtpSink,
    fail_commands: FailCommands,
) -> None:
    """Unavailability is not a verdict on the booking: the job waits and tries again."""
    me = await register(client, email="ann@example.com")
    token = await book_now(client, linked, me)
    await deliver(client, clock, invitee_event("invitee.created", "STEP", token=token))
    fail_commands(["insert"], **STEP_DOWN)  # the booking transaction's first write
    await settle(ctx, settings)
    assert await deliveries(client, linked) == {"invitee.created:STEP": ("received", None)}
    jobs = (await client.get("/api/admin/jobs", headers=linked.admin)).json()
    [process] = [j for j in jobs if j["kind"] == "calendly.process"]
    assert process["state"] == "retry_wait"
    assert "unavailable" in process["last_error"]

    clock.advance(minutes=1)  # past the backoff
    await settle(ctx, settings)
    [booking] = (await client.get("/api/bookings", headers=me)).json()
    assert (booking["start"], booking["status"]) == ("2027-03-03T11:00:00Z", "confirmed")
    assert await deliveries(client, linked) == {"invitee.created:STEP": ("booked", None)}
    assert calendly.cancellations == []
    assert not [m for m in smtp.messages if "please book through Holdfast" in str(m["Subject"])]


async def test_token_expiry_is_judged_when_the_invitee_booked_not_when_the_job_runs(
    client: httpx.AsyncClient, linked: Practice, clock: Clock, ctx: Context, settings: Settings
) -> None:
    me = await register(client)
    token = await book_now(client, linked, me)
    clock.advance(minutes=10)  # booked in Calendly within the token's 15 minutes
    await deliver(client, clock, invitee_event("invitee.created", "SLOW", token=token))
    # Calendly retried a delivery for half an hour (our API was down): its `created_at` says
    # when the invitee booked.
    late = await book_now(client, linked, me)
    booked = iso_z(clock.now)
    clock.advance(minutes=30)
    await deliver(
        client,
        clock,
        {
            **invitee_event("invitee.created", "RETRIED", token=late, start="2027-03-04T11:00:00Z"),
            "created_at": booked,
        },
    )
    clock.advance(minutes=30)  # and the worker was down for a deploy
    await settle(ctx, settings)
    starts = sorted(b["start"] for b in (await client.get("/api/bookings", headers=me)).json())
    assert starts == ["2027-03-03T11:00:00Z", "2027-03-04T11:00:00Z"]
    assert set((await deliveries(client, linked)).values()) == {("booked", None)}


async def test_a_failure_after_any_step_is_re_run_to_the_right_end(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    fail_commands: FailCommands,
) -> None:
    me = await register(client)
    # A cancel that overtook its create; the step that applies it fails once.
    token = await book_now(client, linked, me)
    await deliver(client, clock, invitee_event("invitee.canceled", "EARLY"))
    await deliver(client, clock, invitee_event("invitee.created", "EARLY", token=token))
    fail_commands(["delete"], **STEP_DOWN)  # freeing the claims of the booking just made
    await settle(ctx, settings)
    clock.advance(minutes=1)
    await settle(ctx, settings)
    [early] = (await client.get("/api/bookings", headers=me)).json()
    assert early["status"] == "cancelled"

    # A reschedule whose move fails once.
    token = await book_now(client, linked, me)
    await deliver(
        client,
        clock,
        invitee_event("invitee.created", "OLD", token=token, start="2027-03-04T11:00:00Z"),
    )
    await settle(ctx, settings)
    await reschedule(client, clock, "OLD", "NEW", "2027-03-05T11:00:00.000000Z")
    fail_commands(["delete"], **STEP_DOWN)  # freeing the old interval
    await settle(ctx, settings)
    clock.advance(minutes=1)
    await settle(ctx, settings)
    live = [
        (b["id"], b["start"], b["status"])
        for b in (await client.get("/api/bookings", headers=me)).json()
        if b["status"] != "cancelled"
    ]
    assert [(start, status) for _, start, status in live] == [("2027-03-05T11:00:00Z", "confirmed")]
    live_id = live[0][0]
    assert set((await deliveries(client, linked)).values()) <= {
        ("booked", None),
        ("cancelled", None),
        ("cancelled", "no booking yet"),
    }
    again = {
        "service_id": linked.session,
        "provider_id": linked.london,
        "start": "2027-03-04T11:00:00Z",
    }
    assert (
        await client.post("/api/bookings", json=again, headers=await register(client))
    ).status_code == 201  # the old interval was freed

    # A move whose commit lands but answers with a write-concern timeout: the transaction runs
    # again and finds the booking already moved, which is success, not a changed booking.
    fail_commands(["commitTransaction"], writeConcernError=WRITE_CONCERN_TIMEOUT)
    await reschedule(client, clock, "NEW", "NEWER", "2027-03-05T13:00:00.000000Z")
    await settle(ctx, settings)
    [moved] = [
        b for b in (await client.get("/api/bookings", headers=me)).json() if b["id"] == live_id
    ]
    assert (moved["start"], moved["status"]) == ("2027-03-05T13:00:00Z", "confirmed")
    assert (await deliveries(client, linked))["invitee.created:NEWER"] == ("booked", None)


async def test_a_reschedule_that_overtakes_the_booking_it_moves_waits_for_it(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    me = await register(client)
    token = await book_now(client, linked, me)
    await reschedule(client, clock, "FIRST", "SECOND", "2027-03-03T11:30:00.000000Z")
    clock.advance(seconds=1)  # the first booking's own create arrives after its reschedule
    await deliver(client, clock, invitee_event("invitee.created", "FIRST", token=token))
    await settle(ctx, settings)
    clock.advance(minutes=1)
    await settle(ctx, settings)
    [booking] = (await client.get("/api/bookings", headers=me)).json()
    assert (booking["start"], booking["status"]) == ("2027-03-03T11:30:00Z", "confirmed")
    assert calendly.cancellations == []


async def test_a_calendly_meeting_longer_than_its_service_holds_its_whole_length(
    client: httpx.AsyncClient, linked: Practice, clock: Clock, ctx: Context, settings: Settings
) -> None:
    """Calendly scheduled 60 minutes against the 30-minute service: the meeting happens for
    60 minutes, so Holdfast must not sell its second half."""
    me = await register(client)
    response = await client.post("/api/book-now", json={"service_id": linked.short}, headers=me)
    token = parse_qs(urlsplit(response.json()["url"]).query)["utm_content"][0]
    await deliver(client, clock, invitee_event("invitee.created", "LONG", token=token))
    await settle(ctx, settings)
    [booking] = (await client.get("/api/bookings", headers=me)).json()
    assert (booking["start"], booking["end"]) == ("2027-03-03T11:00:00Z", "2027-03-03T12:00:00Z")
    second_half = {
        "service_id": linked.short,
        "provider_id": linked.london,
        "start": "2027-03-03T11:30:00Z",
    }
    taken = await client.post("/api/bookings", json=second_half, headers=await register(client))
    assert taken.status_code == 409


async def test_cancelling_a_calendly_booking_in_holdfast_cancels_it_in_calendly_too(
    client: httpx.AsyncClient,
    linked: Practice,
    clock: Clock,
    ctx: Context,
    settings: Settings,
    calendly: CalendlyApi,
) -> None:
    me = await register(client)
    for invitee, start in (("MINE", START), ("ADMINS", "2027-03-04T11:00:00Z")):
        token = await book_now(client, linked, me)
        await deliver(
            client, clock, invitee_event("invitee.created", invitee, token=token, start=start)
        )
    await settle(ctx, settings)
    mine, admins = (await client.get("/api/bookings", headers=me)).json()
    by_me = await client.post(
        f"/api/bookings/{mine['id']}/cancel", json={"reason": "ill"}, headers=me
    )
    by_admin = await client.post(
        f"/api/bookings/{admins['id']}/cancel", json={"reason": "closed"}, headers=linked.admin
    )
    assert by_me.status_code == by_admin.status_code == 200
    await settle(ctx, settings)
    assert sorted(c["uuid"] for c in calendly.cancellations) == ["EV-ADMINS", "EV-MINE"]
    told = {c["uuid"]: c["reason"] for c in calendly.cancellations}
    assert "ill" in told["EV-MINE"] and "Please book through" not in told["EV-MINE"]
    # Calendly then tells us about its own cancellation: nothing more happens.
    await deliver(client, clock, invitee_event("invitee.canceled", "MINE"))
    await settle(ctx, settings)
    assert len(calendly.cancellations) == 2


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
