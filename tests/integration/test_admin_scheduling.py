"""The practice books for clients, moves bookings, edits and archives its catalog, and finds
its clients: through the API, as the admin console and a client use it."""

from __future__ import annotations

from typing import Any

import httpx
from holdfast.context import Context
from holdfast.jobs.models import Job

from tests.conftest import Clock
from tests.support import Practice, register


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    found = (await client.get("/api/me", headers=headers)).json()
    assert isinstance(found, dict)
    return found


def session_at(practice: Practice, start: str, **more: Any) -> dict[str, Any]:
    return {"service_id": practice.session, "provider_id": practice.london, "start": start, **more}


async def test_the_practice_books_for_a_client_off_the_public_grid_never_over_a_booking(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    visitor = await register(client)
    person = await me(client, visitor)
    admin = await me(client, practice.admin)
    body = session_at(practice, "2027-03-03T09:05:00Z", user_id=person["id"])
    made = await client.post("/api/admin/bookings", json=body, headers=practice.admin)
    assert made.status_code == 201, made.text
    booking = made.json()
    assert (booking["user_id"], booking["start"], booking["source"]) == (
        person["id"],
        "2027-03-03T09:05:00Z",
        "admin",
    )
    # The client sees it as theirs and is told of it; the history names the admin.
    mine = (await client.get("/api/bookings", headers=visitor)).json()
    assert [b["id"] for b in mine] == [booking["id"]]
    history = (await client.get(f"/api/bookings/{booking['id']}/history", headers=visitor)).json()
    assert [(h["action"], h["actor"]) for h in history] == [("created", admin["id"])]
    confirmation = await Job.find(
        {"subject": f"booking:{booking['id']}", "kind": "notify.confirmation"}
    ).to_list()
    assert len(confirmation) == 1

    # 09:05-10:05 plus a 15-minute buffer: 10:00 overlaps it, for the practice as for anyone.
    over = await client.post(
        "/api/admin/bookings",
        json=session_at(practice, "2027-03-03T10:00:00Z", user_id=person["id"]),
        headers=practice.admin,
    )
    assert (over.status_code, over.json()["error"]) == (409, "slot_taken")
    assert over.json()["alternatives"]
    public = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-03T10:00:00Z"), headers=visitor
    )
    assert public.status_code == 409


async def test_outside_hours_needs_saying_so_and_odd_minutes_are_refused(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    person = await me(client, await register(client))
    evening = session_at(practice, "2027-03-03T18:00:00Z", user_id=person["id"])
    refused = await client.post("/api/admin/bookings", json=evening, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "outside_hours")
    # Running past the end of the day (16:30-17:30, hours end at 17:00) is outside too.
    late = session_at(practice, "2027-03-03T16:30:00Z", user_id=person["id"])
    refused = await client.post("/api/admin/bookings", json=late, headers=practice.admin)
    assert refused.json()["error"] == "outside_hours"
    agreed = await client.post(
        "/api/admin/bookings", json={**evening, "outside_hours": True}, headers=practice.admin
    )
    assert agreed.status_code == 201, agreed.text

    odd = session_at(practice, "2027-03-04T09:07:00Z", user_id=person["id"])
    refused = await client.post("/api/admin/bookings", json=odd, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "off_grid")
    nobody = session_at(practice, "2027-03-04T09:00:00Z", user_id="0" * 24)
    refused = await client.post("/api/admin/bookings", json=nobody, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (404, "user_not_found")
    as_client = await client.post(
        "/api/admin/bookings",
        json=session_at(practice, "2027-03-04T09:00:00Z", user_id=person["id"]),
        headers=await register(client),
    )
    assert as_client.status_code == 403
    assert len((await client.get("/api/bookings", headers=practice.admin)).json()) == 1


async def test_a_client_reschedules_within_the_rules_and_keeps_the_booking(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    visitor = await register(client)
    made = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-03T10:00:00Z"), headers=visitor
    )
    booking = made.json()
    url = f"/api/bookings/{booking['id']}/reschedule"
    moved = await client.post(url, json={"start": "2027-03-04T11:00:00Z"}, headers=visitor)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["id"], moved.json()["start"]) == (booking["id"], "2027-03-04T11:00:00Z")
    history = (await client.get(f"/api/bookings/{booking['id']}/history", headers=visitor)).json()
    assert [h["action"] for h in history] == ["created", "rescheduled"]
    assert history[1]["data"]["previous_start"].startswith("2027-03-03T10:00:00")
    # The old time is free again, in the same transaction.
    other = await register(client)
    again = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-03T10:00:00Z"), headers=other
    )
    assert again.status_code == 201

    # A collision leaves the booking where it was.
    taken = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-05T10:00:00Z"), headers=other
    )
    assert taken.status_code == 201
    lost = await client.post(url, json={"start": "2027-03-05T10:00:00Z"}, headers=visitor)
    assert (lost.status_code, lost.json()["error"]) == (409, "slot_taken")
    assert lost.json()["alternatives"]
    still = (await client.get(f"/api/bookings/{booking['id']}", headers=visitor)).json()
    assert still["start"] == "2027-03-04T11:00:00Z"

    # A client keeps to the booking page's slots; other people's bookings are not theirs.
    for body, status, code in (
        ({"start": "2027-03-04T11:30:00Z"}, 422, "not_a_slot"),
        ({"start": "2027-03-04T20:00:00Z", "outside_hours": True}, 403, "admins_only"),
    ):
        refused = await client.post(url, json=body, headers=visitor)
        assert (refused.status_code, refused.json()["error"]) == (status, code)
    stranger = await client.post(url, json={"start": "2027-03-08T10:00:00Z"}, headers=other)
    assert stranger.status_code == 404


async def test_late_changes_are_the_practices_and_it_may_move_anywhere_free(
    client: httpx.AsyncClient, practice: Practice, clock: Clock
) -> None:
    visitor = await register(client)
    made = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-02T09:00:00Z"), headers=visitor
    )
    url = f"/api/bookings/{made.json()['id']}/reschedule"
    clock.advance(hours=4)  # now 23 hours before the session
    late = await client.post(url, json={"start": "2027-03-04T10:00:00Z"}, headers=visitor)
    assert (late.status_code, late.json()["error"]) == (409, "too_late_to_reschedule")

    evening = {"start": "2027-03-02T19:00:00Z"}
    refused = await client.post(url, json=evening, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "outside_hours")
    moved = await client.post(url, json={**evening, "outside_hours": True}, headers=practice.admin)
    assert moved.status_code == 200, moved.text
    to_sam = await client.post(
        url,
        json={"start": "2027-03-02T14:35:00Z", "provider_id": practice.new_york},
        headers=practice.admin,
    )
    assert to_sam.status_code == 200, to_sam.text
    assert to_sam.json()["provider_id"] == practice.new_york


async def test_an_archived_service_is_hidden_from_booking_and_its_bookings_stay(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    visitor = await register(client)
    short = {"service_id": practice.short, "provider_id": practice.london}
    made = await client.post(
        "/api/bookings", json={**short, "start": "2027-03-03T10:00:00Z"}, headers=visitor
    )
    assert made.status_code == 201
    url = f"/api/admin/services/{practice.short}"
    archived = await client.patch(
        url, json={"archived": True, "name": "Short (old)"}, headers=practice.admin
    )
    assert archived.status_code == 200, archived.text
    assert (archived.json()["archived"], archived.json()["name"]) == (True, "Short (old)")
    assert practice.short not in [s["id"] for s in (await client.get("/api/services")).json()]
    asked = await client.get(
        "/api/availability", params={"service_id": practice.short, "from": "2027-03-03"}
    )
    assert (asked.status_code, asked.json()["error"]) == (422, "service_archived")
    refused = await client.post(
        "/api/bookings", json={**short, "start": "2027-03-03T11:00:00Z"}, headers=visitor
    )
    assert refused.json()["error"] == "service_archived"
    kept = await client.get(f"/api/bookings/{made.json()['id']}", headers=visitor)
    assert kept.json()["status"] == "confirmed"
    listed = await client.get("/api/admin/services?archived=true", headers=practice.admin)
    assert [s["id"] for s in listed.json()] == [practice.short]

    back = await client.patch(
        url, json={"archived": False, "duration_minutes": 45}, headers=practice.admin
    )
    assert back.status_code == 200, back.text
    public = {s["id"]: s for s in (await client.get("/api/services")).json()}
    assert public[practice.short]["duration_minutes"] == 45
    for bad in ({"duration_minutes": 7}, {"name": None}, {"archived": None}, {"colour": "red"}):
        refused = await client.patch(url, json=bad, headers=practice.admin)
        assert refused.status_code == 422, bad
    missing = await client.patch(
        "/api/admin/services/" + "0" * 24, json={"name": "X"}, headers=practice.admin
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "service_not_found")


async def test_a_services_waitlist_settings_and_location_are_edited_like_any_field(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    url = f"/api/admin/services/{practice.short}"
    waitlist = {"enabled": True, "mode": "batch", "offer_minutes": 5, "batch_size": 2}
    edited = await client.patch(
        url, json={"waitlist": waitlist, "location": "video"}, headers=practice.admin
    )
    assert edited.status_code == 200, edited.text
    public = {s["id"]: s for s in (await client.get("/api/services")).json()}
    assert public[practice.short]["waitlist"] == waitlist
    assert public[practice.short]["location"] == "video"
    for bad in ({"waitlist": {"mode": "lottery"}}, {"location": "moon"}, {"location": None}):
        refused = await client.patch(url, json=bad, headers=practice.admin)
        assert refused.status_code == 422, bad
    public = {s["id"]: s for s in (await client.get("/api/services")).json()}
    assert public[practice.short]["location"] == "video"  # a refused edit changed nothing


async def test_an_archived_practitioner_takes_no_new_bookings(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    archived = await client.patch(
        f"/api/admin/providers/{practice.new_york}", json={"archived": True}, headers=practice.admin
    )
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert [p["id"] for p in (await client.get("/api/providers")).json()] == [practice.london]
    services = {s["id"]: s for s in (await client.get("/api/services")).json()}
    assert services[practice.session]["provider_ids"] == [practice.london]
    window = {"service_id": practice.session, "from": "2027-03-03", "days": 1}
    slots = (await client.get("/api/availability", params=window)).json()["slots"]
    assert slots and {s["provider_id"] for s in slots} == {practice.london}
    asked = await client.get(
        "/api/availability", params={**window, "provider_id": practice.new_york}
    )
    assert (asked.status_code, asked.json()["error"]) == (422, "provider_archived")
    everyone = await client.get("/api/admin/providers", headers=practice.admin)
    assert {p["id"]: p["archived"] for p in everyone.json()} == {
        practice.london: False,
        practice.new_york: True,
    }


async def test_the_practice_finds_clients_and_reads_their_record(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    grace = await register(client, email="ghopper@example.com", name="Grace Hopper")
    await register(client, email="alan@example.com", name="Alan Turing")

    async def found(q: str) -> list[str]:
        listed = await client.get("/api/admin/users", params={"q": q}, headers=practice.admin)
        assert listed.status_code == 200, listed.text
        return [u["email"] for u in listed.json()]

    assert await found("gra") == ["ghopper@example.com"]  # a name's first word
    assert await found("HOP") == ["ghopper@example.com"]  # any word, any case
    assert await found("al") == ["alan@example.com"]
    assert await found("ghop") == ["ghopper@example.com"]  # an email's start
    assert await found("zzz") == []
    assert await found(".*") == []  # a prefix, not a pattern

    made = await client.post(
        "/api/bookings", json=session_at(practice, "2027-03-03T10:00:00Z"), headers=grace
    )
    grace_id = made.json()["user_id"]
    record = await client.get(f"/api/admin/users/{grace_id}", headers=practice.admin)
    assert record.status_code == 200, record.text
    assert record.json()["user"]["email"] == "ghopper@example.com"
    assert [b["id"] for b in record.json()["upcoming"]] == [made.json()["id"]]
    assert record.json()["past"] == [] and record.json()["series"] == []
    missing = await client.get("/api/admin/users/" + "0" * 24, headers=practice.admin)
    assert (missing.status_code, missing.json()["error"]) == (404, "user_not_found")
    # Every admin list names the client.
    listed = (await client.get("/api/bookings", headers=practice.admin)).json()
    assert listed[0]["client"] == {
        "id": grace_id,
        "name": "Grace Hopper",
        "email": "ghopper@example.com",
    }


async def test_a_double_submit_of_a_booking_for_a_client_books_once(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    person = await me(client, await register(client))
    body = session_at(practice, "2027-03-03T09:05:00Z", user_id=person["id"])
    key = {**practice.admin, "Idempotency-Key": "book-grace-wednesday"}
    first = await client.post("/api/admin/bookings", json=body, headers=key)
    second = await client.post("/api/admin/bookings", json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await ctx.db.bookings.count_documents({}) == 1
    other = session_at(practice, "2027-03-04T09:05:00Z", user_id=person["id"])
    reused = await client.post("/api/admin/bookings", json=other, headers=key)
    assert (reused.status_code, reused.json()["error"]) == (422, "idempotency_key_reused")
    # Without a key, a repeat is refused by the booking it would overlap.
    again = await client.post("/api/admin/bookings", json=body, headers=practice.admin)
    assert again.status_code == 409
