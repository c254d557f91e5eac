"""The booking funnel through the API: the page's beacon steps, the API's own count of booking
attempts and bookings, per service and day, with conversion rates in the admin's stats."""

from __future__ import annotations

import httpx
from holdfast.context import Context

from tests.support import Practice, register

DAY = "2027-03-01"
START = "2027-03-03T11:00:00Z"


async def test_views_choices_attempts_and_bookings_are_counted_per_service(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    for step in ({"step": "view"}, {"step": "view"}):
        assert (await client.post("/api/funnel", json=step)).status_code == 204
    for _ in range(2):
        chosen = {"step": "service", "service_id": practice.session}
        assert (await client.post("/api/funnel", json=chosen)).status_code == 204
    picked = {"step": "slot", "service_id": practice.session}
    assert (await client.post("/api/funnel", json=picked)).status_code == 204
    # An id that is none of ours is not listed.
    stranger = {"step": "service", "service_id": "0123456789abcdef01234567"}
    assert (await client.post("/api/funnel", json=stranger)).status_code == 204
    ann, bob = await register(client), await register(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    assert (await client.post("/api/bookings", json=body, headers=ann)).status_code == 201
    assert (await client.post("/api/bookings", json=body, headers=bob)).status_code == 409

    answer = await client.get(f"/api/admin/stats?from={DAY}&to={DAY}", headers=practice.admin)
    assert answer.status_code == 200, answer.text
    funnel = answer.json()["funnel"]
    assert funnel["total"] == {
        "views": 2, "services": 2, "slots": 1, "attempts": 2, "booked": 1, "paid": 0
    }  # fmt: skip
    conversion = funnel["conversion"]
    assert conversion["chose_service"] == 1.0 and conversion["selected_time"] == 0.5
    assert conversion["booked"] == 0.5 and conversion["overall"] == 0.5
    [session] = funnel["by_service"]
    assert (session["service_id"], session["service"]) == (practice.session, "Session")
    assert (session["attempts"], session["booked"]) == (2, 1)
    assert {row["day"] for row in funnel["rows"]} == {DAY}


async def test_the_beacon_takes_only_known_steps(client: httpx.AsyncClient) -> None:
    for bad in (
        {"step": "purchase"},
        {"step": "service", "service_id": "not-an-id"},
        {"step": "view", "visitor": "abc"},
    ):
        answer = await client.post("/api/funnel", json=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid"
    text = await client.post(
        "/api/funnel", content=b'{"step":"view"}', headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
