from __future__ import annotations

import httpx

from tests.support import Practice, register


async def test_a_client_books_an_offered_slot(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    slots = await client.get(
        "/api/availability", params={"service_id": practice.session, "tz": "Europe/London"}
    )
    assert slots.status_code == 200, slots.text
    first = slots.json()["slots"][0]
    booked = await client.post(
        "/api/bookings",
        json={
            "service_id": practice.session,
            "provider_id": first["provider_id"],
            "start": first["start"],
        },
        headers=me,
    )
    assert booked.status_code == 201, booked.text
