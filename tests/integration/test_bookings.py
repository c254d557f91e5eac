from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from holdfast.bookings.models import IdempotencyRecord
from holdfast.context import Context
from holdfast.web.idempotency import body_fingerprint

from tests.conftest import Clock
from tests.support import Practice, make_admin, register

MONDAY_11 = "2027-03-01T11:00:00Z"


def booking(practice: Practice, start: str = MONDAY_11, **change: Any) -> dict[str, Any]:
    return {
        "service_id": practice.session,
        "provider_id": practice.london,
        "start": start,
        **change,
    }


async def post_short(
    client: httpx.AsyncClient, practice: Practice, start: str, headers: dict[str, str]
) -> httpx.Response:
    """Book the 30-minute London service at `start`."""
    body = booking(practice, start, service_id=practice.short)
    return await client.post("/api/bookings", json=body, headers=headers)


async def test_book_read_list_cancel_and_history(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    created = await client.post(
        "/api/bookings", json=booking(practice, "2027-03-01T12:00:00+01:00"), headers=me
    )
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["start"] == MONDAY_11 and made["end"] == "2027-03-01T12:00:00Z"
    assert (made["status"], made["source"]) == ("confirmed", "web")
    assert (await client.get(f"/api/bookings/{made['id']}", headers=me)).json() == made
    assert [b["id"] for b in (await client.get("/api/bookings", headers=me)).json()] == [made["id"]]

    cancelled = await client.post(
        f"/api/bookings/{made['id']}/cancel", json={"reason": "ill"}, headers=me
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(
        f"/api/bookings/{made['id']}/cancel", json={"reason": "twice"}, headers=me
    )
    assert again.status_code == 200 and again.json()["cancel_reason"] == "ill"

    history = (await client.get(f"/api/bookings/{made['id']}/history", headers=me)).json()
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("created", None, "confirmed"),
        ("cancelled", "confirmed", "cancelled"),
    ]
    assert history[1]["reason"] == "ill" and history[1]["actor"] == made["user_id"]

    # Cancelling freed the interval in the same transaction: the slot can be booked again.
    rebooked = await client.post(
        "/api/bookings", json=booking(practice), headers=await register(client)
    )
    assert rebooked.status_code == 201


async def test_collision_is_409_with_nearest_alternatives(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    first, second = await register(client), await register(client, timezone="America/New_York")
    assert (
        await client.post("/api/bookings", json=booking(practice), headers=first)
    ).status_code == 201
    taken = await client.post("/api/bookings", json=booking(practice), headers=second)
    assert taken.status_code == 409
    body = taken.json()
    assert body["error"] == "slot_taken" and "taken" in body["detail"]
    alternatives = body["alternatives"]
    assert 1 <= len(alternatives) <= 5
    assert MONDAY_11 not in [a["start"] for a in alternatives]
    assert {"provider_id", "start", "end", "start_local"} <= set(alternatives[0])
    assert alternatives[0]["start_local"].endswith("-05:00")  # in the client's own timezone
    # Every alternative really is bookable.
    alt = alternatives[0]
    again = await client.post(
        "/api/bookings",
        json=booking(practice, alt["start"], provider_id=alt["provider_id"]),
        headers=second,
    )
    assert again.status_code == 201


async def test_alternatives_are_the_nearest_free_slots_even_past_a_full_day(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    offered = await client.get(
        "/api/availability",
        params={"service_id": practice.short, "from": "2027-03-01", "days": 14},
    )
    slots = offered.json()["slots"]
    # Fill Monday and Friday. From Monday noon the nearest free times are on Tuesday, most of a
    # day away; from Friday's last slot only one free time lies within a day, and the rest
    # must be found further out (on Thursday, nearer than the Monday after the weekend).
    for day in ("2027-03-01", "2027-03-05"):
        for slot in [s for s in slots if s["start"].startswith(day)]:
            made = await post_short(client, practice, slot["start"], me)
            assert made.status_code == 201, made.text
    free = [s for s in slots if not s["start"].startswith(("2027-03-01", "2027-03-05"))]

    for target in ("2027-03-01T12:00:00Z", "2027-03-05T16:30:00Z"):
        taken = await post_short(client, practice, target, me)
        assert taken.status_code == 409
        at = datetime.fromisoformat(target)
        expected = sorted(free, key=lambda s: abs(datetime.fromisoformat(s["start"]) - at))[:5]
        assert [a["start"] for a in taken.json()["alternatives"]] == sorted(
            s["start"] for s in expected
        )


async def test_partial_overlap_of_different_durations_is_refused(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    # A 30-minute booking at 12:00 sits inside the 15-minute buffer after an 11:00 session.
    short = await post_short(client, practice, "2027-03-01T12:00:00Z", me)
    assert short.status_code == 201
    session = await client.post("/api/bookings", json=booking(practice), headers=me)
    assert session.status_code == 409


async def test_only_offered_slots_can_be_booked(
    client: httpx.AsyncClient, practice: Practice, clock: Clock
) -> None:
    me = await register(client)
    cases = [
        (booking(practice, "2027-03-01T11:30:00Z"), 422, "not_a_slot"),  # off the hourly step
        (booking(practice, "2027-03-01T18:00:00Z"), 422, "not_a_slot"),  # after hours
        (booking(practice, "2027-03-06T11:00:00Z"), 422, "not_a_slot"),  # Saturday
        (booking(practice, "2027-02-26T11:00:00Z"), 422, "start_in_past"),
        (booking(practice, "2027-03-01T11:00:00"), 422, "invalid"),  # naive: no offset
        (booking(practice, "tomorrow"), 422, "invalid"),
        (booking(practice, service_id="000000000000000000000000"), 404, "service_not_found"),
        (booking(practice, provider_id="nope"), 404, "provider_not_found"),
        (booking(practice, provider_id="0" * 24), 404, "provider_not_found"),
        (
            booking(practice, service_id=practice.short, provider_id=practice.new_york),
            422,
            "provider_not_offering",
        ),
        ({"service_id": practice.session}, 422, "invalid"),
    ]
    for body, status, code in cases:
        response = await client.post("/api/bookings", json=body, headers=me)
        assert (response.status_code, response.json()["error"]) == (status, code), body
        assert response.json()["detail"]
    assert (await client.get("/api/bookings", headers=me)).json() == []


async def test_clients_see_only_their_own_bookings(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    ann, bob = await register(client), await register(client)
    mine = (await client.post("/api/bookings", json=booking(practice), headers=ann)).json()
    assert (await client.get("/api/bookings", headers=bob)).json() == []
    for path in (f"/api/bookings/{mine['id']}", f"/api/bookings/{mine['id']}/history"):
        assert (await client.get(path, headers=bob)).status_code == 404
    refused = await client.post(f"/api/bookings/{mine['id']}/cancel", json={}, headers=bob)
    assert refused.status_code == 404
    assert (await client.get(f"/api/bookings/{mine['id']}", headers=ann)).json()[
        "status"
    ] == "confirmed"
    assert (await client.post("/api/bookings", json=booking(practice))).status_code == 401

    admin = await make_admin(client, ctx)
    assert [b["id"] for b in (await client.get("/api/bookings", headers=admin)).json()] == [
        mine["id"]
    ]
    by_admin = await client.post(
        f"/api/bookings/{mine['id']}/cancel", json={"reason": "clinic closed"}, headers=admin
    )
    assert by_admin.json()["status"] == "cancelled"


async def test_idempotency_key_replays_refuses_reuse_and_in_flight(
    client: httpx.AsyncClient, practice: Practice, clock: Clock, ctx: Context
) -> None:
    me = await register(client)
    key = {**me, "Idempotency-Key": "click-1"}
    first = await client.post("/api/bookings", json=booking(practice), headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    clock.advance(hours=25)  # kept at least a day
    replay = await client.post(
        "/api/bookings",
        content=b'{"start": "%s", "service_id": "%s", "provider_id": "%s"}'
        % (MONDAY_11.encode(), practice.session.encode(), practice.london.encode()),
        headers={**key, "content-type": "application/json"},
    )
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert len((await client.get("/api/bookings", headers=me)).json()) == 1

    other = await client.post(
        "/api/bookings", json=booking(practice, "2027-03-03T11:00:00Z"), headers=key
    )
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"

    # Another user's identical key is theirs alone.
    theirs = await client.post(
        "/api/bookings",
        json=booking(practice, "2027-03-03T11:00:00Z"),
        headers={**await register(client), "Idempotency-Key": "click-1"},
    )
    assert theirs.status_code == 201

    # The first request with key click-2 is still running (its reservation is fresh).
    user_id = (await client.get("/api/me", headers=me)).json()["id"]
    body = json.dumps(booking(practice, "2027-03-04T11:00:00Z")).encode()
    await IdempotencyRecord(
        id=f"bookings:{user_id}:click-2",
        request_hash=body_fingerprint(body),
        state="in_progress",
        created_at=ctx.now(),
        expires_at=ctx.now() + timedelta(days=2),
    ).insert()
    in_flight = {**me, "Idempotency-Key": "click-2", "content-type": "application/json"}
    busy = await client.post("/api/bookings", content=body, headers=in_flight)
    assert (busy.status_code, busy.json()["error"]) == (409, "request_in_progress")
    clock.advance(minutes=1)  # a reservation whose request died is taken over after its lease
    taken_over = await client.post("/api/bookings", content=body, headers=in_flight)
    assert taken_over.status_code == 201


async def test_a_collision_is_replayed_too(client: httpx.AsyncClient, practice: Practice) -> None:
    ann, bob = await register(client), await register(client)
    await client.post("/api/bookings", json=booking(practice), headers=ann)
    first = await client.post(
        "/api/bookings", json=booking(practice), headers={**bob, "Idempotency-Key": "k"}
    )
    again = await client.post(
        "/api/bookings", json=booking(practice), headers={**bob, "Idempotency-Key": "k"}
    )
    assert first.status_code == again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
