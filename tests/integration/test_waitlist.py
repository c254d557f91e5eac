"""The waitlist through the API: a freed slot offered, held, claimed, declined, expired,
cascaded; never to two people at once, never twice to one person."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.jobs.models import Job
from holdfast.jobs.registry import default_registry
from holdfast.jobs.runner import run_job
from holdfast.settings import Settings
from holdfast.waitlist import flows
from holdfast.waitlist.models import Offer, Opening

from tests.conftest import Clock
from tests.fakes import SmsServer, SmtpSink
from tests.support import Practice, register, run_all_due, with_senders

# Wednesday 3 March 2027, 15:00 UTC: 15:00 in London (GMT), 10:00 in New York (EST), so both
# providers offer it. The test clock starts on Monday 06:00Z.
START = "2027-03-03T15:00:00Z"
_phones = iter(range(100, 1000))


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    return with_senders(settings, smtp.url, sms.url)


async def person(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    phone = f"+4477009{next(_phones):05d}"
    return await register(client, phone=phone), phone


async def work_off(ctx: Context, settings: Settings) -> list[str]:
    """Run what is due now, and what that made due, until nothing is left (as workers would)."""
    outcomes: list[str] = []
    for _ in range(20):
        ran = await run_all_due(ctx, settings)
        if not ran:
            return outcomes
        outcomes += ran
    raise AssertionError(f"jobs kept coming: {outcomes}")


def token_sent_to(sms: SmsServer, phone: str) -> str:
    [text] = [m["Body"] for m in sms.received if m["To"] == phone]
    found = re.search(r"/offers/([A-Za-z0-9_.-]+)", text)
    assert found, text
    return found.group(1)


async def book(
    client: httpx.AsyncClient, practice: Practice, who: dict[str, str], **change: str
) -> httpx.Response:
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    return await client.post("/api/bookings", json={**body, **change}, headers=who)


async def join(
    client: httpx.AsyncClient, service_id: str, who: dict[str, str], **extra: str
) -> dict[str, Any]:
    joined = await client.post(
        "/api/waitlist", json={"service_id": service_id, **extra}, headers=who
    )
    assert joined.status_code == 201, joined.text
    body: dict[str, Any] = joined.json()
    return body


async def offered_at_start(client: httpx.AsyncClient, practice: Practice) -> bool:
    """Whether public availability shows London's START slot."""
    found = await client.get(
        "/api/availability",
        params={"service_id": practice.session, "provider_id": practice.london,
                "from": "2027-03-03", "days": 1, "tz": "UTC"},
    )  # fmt: skip
    assert found.status_code == 200, found.text
    return any(s["start"] == START for s in found.json()["slots"])


async def cancelled_slot(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings
) -> None:
    """Someone books START and cancels it; the chain runs."""
    owner, _ = await person(client)
    made = await book(client, practice, owner)
    assert made.status_code == 201, made.text
    await work_off(ctx, settings)
    cancel = await client.post(f"/api/bookings/{made.json()['id']}/cancel", json={}, headers=owner)
    assert cancel.status_code == 200, cancel.text
    await work_off(ctx, settings)


async def offer_states(client: httpx.AsyncClient, practice: Practice) -> dict[str, str]:
    listed = await client.get("/api/admin/offers", headers=practice.admin)
    assert listed.status_code == 200, listed.text
    return {o["user_id"]: o["state"] for o in listed.json()}


async def me(client: httpx.AsyncClient, who: dict[str, str]) -> str:
    return str((await client.get("/api/me", headers=who)).json()["id"])


async def test_sequential_cascade_a_ignores_b_declines_c_claims(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
    smtp: SmtpSink,
    clock: Clock,
) -> None:
    (a, a_phone), (b, b_phone), (c, c_phone) = [await person(client) for _ in range(3)]
    for who in (a, b, c):
        await join(client, practice.session, who)
    assert await offered_at_start(client, practice)

    await cancelled_slot(client, practice, ctx, settings)
    # Only A, the first in line, is offered the slot, and the offer holds it: it is not public.
    a_token = token_sent_to(sms, a_phone)
    [text] = [m["Body"] for m in sms.received if m["To"] == a_phone]
    assert "An opening for Session is available at Wednesday 3 March 2027, 15:00" in text
    assert "Claim it in the next 10 minutes" in text and "Decline:" in text
    assert any("An opening for Session" in s for s in smtp.subjects())
    assert [m["To"] for m in sms.received if "opening" in m["Body"]] == [a_phone]
    assert not await offered_at_start(client, practice)
    intruder, _ = await person(client)
    taken = await book(client, practice, intruder)
    assert taken.status_code == 409, taken.text

    viewed = await client.get(f"/offers/{a_token}", headers={"Accept": "application/json"})
    assert viewed.status_code == 200, viewed.text
    assert viewed.json()["state"] == "viewed" and viewed.json()["service"] == "Session"

    # A ignores it: ten minutes later it expires and B is offered the slot.
    clock.advance(minutes=10)
    await work_off(ctx, settings)
    b_token = token_sent_to(sms, b_phone)
    assert not await offered_at_start(client, practice)

    # B declines: C is offered it.
    declined = await client.post(f"/offers/{b_token}/decline")
    assert declined.status_code == 200, declined.text
    await work_off(ctx, settings)
    c_token = token_sent_to(sms, c_phone)

    claimed = await client.post(f"/offers/{c_token}/claim")
    assert claimed.status_code == 201, claimed.text
    booking = claimed.json()
    assert (booking["start"], booking["user_id"]) == (START, await me(client, c))
    assert booking["source"] == "waitlist" and booking["status"] == "confirmed"
    again = await client.post(f"/offers/{c_token}/claim")  # a second tap: the same booking
    assert (again.status_code, again.json()["id"]) == (201, booking["id"])

    late = await client.post(f"/offers/{a_token}/claim")
    assert (late.status_code, late.json()["error"]) == (410, "offer_expired")
    changed_mind = await client.post(f"/offers/{b_token}/claim")
    assert (changed_mind.status_code, changed_mind.json()["error"]) == (410, "offer_declined")

    states = await offer_states(client, practice)
    assert sorted(states.values()) == ["accepted", "declined", "expired"]
    assert states[await me(client, c)] == "accepted"
    # C's entry is gone (they are booked); A, who only missed the offer, still waits.
    assert (await client.get("/api/waitlist", headers=c)).json() == []
    assert len((await client.get("/api/waitlist", headers=a)).json()) == 1
    mine = await client.get("/api/bookings", headers=c)
    assert [x["id"] for x in mine.json()] == [booking["id"]]
    [opening] = await Opening.find_all().to_list()
    assert opening.status == "filled" and opening.first_offer_at is not None


async def batch_of_three_freed(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, waiting: int
) -> list[tuple[dict[str, str], str]]:
    """A service offering a freed slot to three at once, `waiting` people in its line, and
    START booked and cancelled; the people (their auth and phone) in the order they joined."""
    created = await client.post(
        "/api/admin/services",
        json={"name": "Consult", "duration_minutes": 60, "slot_step_minutes": 60,
              "provider_ids": [practice.london],
              "waitlist": {"mode": "batch", "offer_minutes": 15, "batch_size": 3}},
        headers=practice.admin,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["waitlist"] == {
        "enabled": True, "mode": "batch", "offer_minutes": 15, "batch_size": 3,
    }  # fmt: skip
    consult = created.json()["id"]
    people = [await person(client) for _ in range(waiting)]
    for who, _ in people:
        await join(client, consult, who)
    owner, _ = await person(client)
    made = await book(client, practice, owner, service_id=consult)
    assert made.status_code == 201, made.text
    await client.post(f"/api/bookings/{made.json()['id']}/cancel", json={}, headers=owner)
    await work_off(ctx, settings)
    return people


async def test_batch_first_claim_wins_the_others_see_just_taken(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    people = await batch_of_three_freed(client, practice, ctx, settings, waiting=4)

    offered = [p for p in people if any(m["To"] == p[1] for m in sms.received)]
    assert offered == people[:3]  # three at once, in the order they joined
    assert all("next 15 minutes" in m["Body"] for m in sms.received if "opening" in m["Body"])
    tokens = [token_sent_to(sms, phone) for _, phone in offered]

    # Two of them tap "claim" at the same instant: one booking.
    first, second = await asyncio.gather(
        client.post(f"/offers/{tokens[1]}/claim"), client.post(f"/offers/{tokens[0]}/claim")
    )
    assert sorted([first.status_code, second.status_code]) == [201, 410]
    loser = second if first.status_code == 201 else first
    assert loser.json()["error"] == "offer_superseded"

    page = await client.get(f"/offers/{tokens[2]}", headers={"Accept": "text/html"})
    assert page.status_code == 410 and "Just taken" in page.text
    as_json = await client.get(f"/offers/{tokens[2]}", headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json()["error"]) == (410, "offer_superseded")

    bookings = (await client.get("/api/bookings", headers=practice.admin)).json()
    held = [x for x in bookings if x["start"] == START and x["status"] == "confirmed"]
    assert len(held) == 1 and held[0]["source"] == "waitlist"
    # The two who lost stay on the list; the fourth was never offered this slot.
    still = (await client.get("/api/admin/waitlist", headers=practice.admin)).json()
    assert len(still) == 3
    assert sorted((await offer_states(client, practice)).values()) == [
        "accepted", "superseded", "superseded",
    ]  # fmt: skip


async def test_a_person_booked_elsewhere_meanwhile_is_skipped_and_nobody_is_offered_twice(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    (a, a_phone), (b, b_phone) = [await person(client) for _ in range(2)]
    await join(client, practice.session, a)
    await join(client, practice.session, a, provider_id=practice.london)  # a second entry
    await join(client, practice.session, b)
    # A books the same time with the other provider: A can no longer come at START.
    elsewhere = await book(client, practice, a, provider_id=practice.new_york)
    assert elsewhere.status_code == 201, elsewhere.text

    await cancelled_slot(client, practice, ctx, settings)
    assert [m["To"] for m in sms.received if "opening" in m["Body"]] == [b_phone]
    b_token = token_sent_to(sms, b_phone)

    # The chain runs again (a retried job, a second worker): nobody new is offered anything.
    [opening] = await Opening.find_all().to_list()
    await flows.offer_next(ctx, opening_id=opening.id)
    await work_off(ctx, settings)
    assert await Offer.find_all().count() == 1

    # B declines; A is still busy then and nobody else waits: the chain ends and the slot is
    # public again.
    assert (await client.post(f"/offers/{b_token}/decline")).status_code == 200
    await work_off(ctx, settings)
    assert [m["To"] for m in sms.received if "opening" in m["Body"]] == [b_phone]
    assert (await Opening.get(opening.id)).status == "exhausted"  # type: ignore[union-attr]
    assert await offered_at_start(client, practice)
    walk_in, _ = await person(client)
    assert (await book(client, practice, walk_in)).status_code == 201
    assert a_phone not in [m["To"] for m in sms.received if "opening" in m["Body"]]


async def test_an_expiry_racing_a_claim_has_one_outcome(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
    clock: Clock,
) -> None:
    (a, a_phone), (b, b_phone) = [await person(client) for _ in range(2)]
    await join(client, practice.session, a)
    await join(client, practice.session, b)
    await cancelled_slot(client, practice, ctx, settings)
    a_token = token_sent_to(sms, a_phone)

    clock.advance(minutes=10)  # the expiry is due now: it and A's claim race
    claim, _ = await asyncio.gather(
        client.post(f"/offers/{a_token}/claim"), work_off(ctx, settings)
    )
    await work_off(ctx, settings)
    states = await offer_states(client, practice)
    a_id = await me(client, a)
    bookings = [
        x
        for x in (await client.get("/api/bookings", headers=practice.admin)).json()
        if x["start"] == START and x["status"] == "confirmed"
    ]
    if claim.status_code == 201:
        assert states == {a_id: "accepted"} and [x["user_id"] for x in bookings] == [a_id]
    else:
        assert (claim.status_code, claim.json()["error"]) == (410, "offer_expired")
        assert states[a_id] == "expired" and bookings == []
        assert token_sent_to(sms, b_phone)  # the chain went on to B


async def test_a_public_booking_racing_the_chain_has_one_winner(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings
) -> None:
    waiting, _ = await person(client)
    await join(client, practice.session, waiting)
    owner, _ = await person(client)
    made = await book(client, practice, owner)
    await work_off(ctx, settings)
    await client.post(f"/api/bookings/{made.json()['id']}/cancel", json={}, headers=owner)

    walk_in, _ = await person(client)
    public, _ = await asyncio.gather(book(client, practice, walk_in), work_off(ctx, settings))
    await work_off(ctx, settings)
    active = await Offer.find({"state": {"$in": ["sent", "viewed"]}}).count()
    [opening] = await Opening.find_all().to_list()
    if public.status_code == 201:
        assert active == 0 and opening.status == "lost"
    else:
        assert public.status_code == 409 and active == 1 and opening.status == "open"


async def test_joining_twice_is_one_entry_and_leaving_works(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    who, _ = await person(client)
    first = await join(client, practice.session, who, earliest="2027-03-02T00:00:00+01:00")
    again = await client.post(
        "/api/waitlist",
        json={"service_id": practice.session, "earliest": "2027-03-01T23:00:00Z"},
        headers=who,
    )
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    assert first["earliest"] == "2027-03-01T23:00:00Z" and first["provider_id"] is None

    bad = await client.post(
        "/api/waitlist",
        json={"service_id": practice.session, "earliest": "2027-03-05T00:00:00Z",
              "latest": "2027-03-04T00:00:00Z"},
        headers=who,
    )  # fmt: skip
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_window")
    other, _ = await person(client)
    assert (await client.delete(f"/api/waitlist/{first['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"/api/waitlist/{first['id']}", headers=who)).status_code == 204
    assert (await client.get("/api/waitlist", headers=who)).json() == []
    nobody = await client.post("/api/waitlist", json={"service_id": practice.session})
    assert nobody.status_code == 401


async def test_a_cancellation_nobody_waits_for_schedules_nothing_for_the_waitlist(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings
) -> None:
    owner, _ = await person(client)
    made = await book(client, practice, owner)
    await client.post(f"/api/bookings/{made.json()['id']}/cancel", json={}, headers=owner)
    assert await Job.find({"kind": {"$regex": "^waitlist"}}).count() == 0


async def test_stats_show_the_recovery(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    (a, a_phone), (b, _) = [await person(client) for _ in range(2)]
    await join(client, practice.session, a)
    await cancelled_slot(client, practice, ctx, settings)
    claimed = await client.post(f"/offers/{token_sent_to(sms, a_phone)}/claim")
    assert claimed.status_code == 201, claimed.text

    found = await client.get("/api/admin/stats", headers=practice.admin)
    assert found.status_code == 200, found.text
    waitlist = found.json()["waitlist"]
    assert (waitlist["freed_slots"], waitlist["refilled_slots"]) == (1, 1)
    assert waitlist["fill_rate"] == 1.0
    assert waitlist["revenue_recovered"] == {"GBP": 9000}
    assert waitlist["offers_by_state"]["accepted"] == 1
    assert waitlist["offer_latency"]["count"] == 1
    assert waitlist["time_to_fill"]["count"] == 1
    assert waitlist["offer_latency_histogram"][-1] == {"le": None, "count": 1}
    none = await client.get(
        "/api/admin/stats", params={"from": "2027-01-01", "to": "2027-01-31"},
        headers=practice.admin,
    )  # fmt: skip
    assert none.json()["waitlist"]["freed_slots"] == 0
    backwards = await client.get(
        "/api/admin/stats", params={"from": "2027-02-01", "to": "2027-01-31"},
        headers=practice.admin,
    )  # fmt: skip
    assert (backwards.status_code, backwards.json()["error"]) == (422, "invalid_window")
    assert (await client.get("/api/admin/stats", headers=b)).status_code == 403


def gauge(scraped: str, name: str, label: str = "") -> float:
    """A figure of a /metrics scrape (`label`: e.g. 'status="open"')."""
    series = f"{name}{{{label}}}" if label else name
    found = re.search(rf"^{re.escape(series)} (\S+)$", scraped, re.M)
    assert found, f"{series} is not in /metrics"
    return float(found.group(1))


async def test_metrics_count_the_open_chains_down_to_none(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    waiting, phone = await person(client)
    await join(client, practice.session, waiting)
    await cancelled_slot(client, practice, ctx, settings)
    scraped = (await client.get("/metrics")).text
    assert gauge(scraped, "holdfast_waitlist_openings", 'status="open"') == 1
    assert gauge(scraped, "holdfast_waitlist_offers", 'state="sent"') == 1

    claimed = await client.post(f"/offers/{token_sent_to(sms, phone)}/claim")
    assert claimed.status_code == 201, claimed.text
    scraped = (await client.get("/metrics")).text
    assert gauge(scraped, "holdfast_waitlist_openings", 'status="open"') == 0
    assert gauge(scraped, "holdfast_waitlist_openings", 'status="filled"') == 1
    assert gauge(scraped, "holdfast_waitlist_offers", 'state="sent"') == 0


async def test_a_batch_of_offers_is_one_cancellation_to_offer_latency(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    latency = "holdfast_waitlist_offer_latency_seconds_count"
    before = gauge((await client.get("/metrics")).text, latency)
    await batch_of_three_freed(client, practice, ctx, settings, waiting=3)
    assert len([m for m in sms.received if "/offers/" in m["Body"]]) == 3
    assert gauge((await client.get("/metrics")).text, latency) == before + 1


async def test_a_worker_sends_the_offer_it_just_made_itself_without_the_queue(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, sms: SmsServer
) -> None:
    """The offer's message is a job the chain's job writes; the worker that made the offer runs
    it at once after the commit (claimed as usual), with no trip through the queue."""
    waiting, phone = await person(client)
    await join(client, practice.session, waiting)
    owner, _ = await person(client)
    made = await book(client, practice, owner)
    await work_off(ctx, settings)
    cancel = await client.post(f"/api/bookings/{made.json()['id']}/cancel", json={}, headers=owner)
    assert cancel.status_code == 200, cancel.text
    [opened] = await Job.find({"kind": "waitlist.open"}).to_list()

    registry = default_registry(settings)
    worker = dataclasses.replace(ctx, runs_jobs=registry)
    assert await run_job(worker, opened.id, registry) == "succeeded"
    for _ in range(200):  # what it ran after the commit, in the background
        if not worker.background:
            break
        await asyncio.wait(set(worker.background), timeout=10)
    [notify] = await Job.find({"kind": "waitlist.notify"}).to_list()
    assert (notify.state, notify.promoted_at) == ("succeeded", None)
    assert token_sent_to(sms, phone)


@pytest.mark.parametrize("by", ["client", "admin"])
async def test_a_reschedule_frees_the_old_time_and_starts_the_chain(
    by: str,
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
) -> None:
    waiting, phone = await person(client)
    await join(client, practice.session, waiting)
    owner, _ = await person(client)
    made = await book(client, practice, owner)
    assert made.status_code == 201, made.text
    await work_off(ctx, settings)
    moved = await client.post(
        f"/api/bookings/{made.json()['id']}/reschedule",
        json={"start": "2027-03-04T11:00:00Z"},
        headers=owner if by == "client" else practice.admin,
    )
    assert moved.status_code == 200, moved.text
    await work_off(ctx, settings)

    # The old time is offered to the one waiting, and held for them meanwhile.
    [text] = [m["Body"] for m in sms.received if m["To"] == phone]
    assert "An opening for Session is available at Wednesday 3 March 2027, 15:00" in text
    assert not await offered_at_start(client, practice)
    claimed = await client.post(f"/offers/{token_sent_to(sms, phone)}/claim")
    assert claimed.status_code == 201, claimed.text
    assert (claimed.json()["start"], claimed.json()["user_id"]) == (
        START,
        await me(client, waiting),
    )
    [opening] = await Opening.find_all().to_list()
    assert opening.status == "filled"
