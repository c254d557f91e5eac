"""Bad input gets a 4xx with an error code and a sentence, never a 500, and changes nothing."""

from __future__ import annotations

import httpx

from tests.support import Practice, register


async def test_malformed_and_oversized_bodies(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    json_headers = {**me, "content-type": "application/json"}
    cases = [
        (b'{"service_id": ', 400, "malformed_json"),
        (b"[1, 2, 3]", 422, "invalid"),
        (
            b'{"service_id": "x", "provider_id": "y", "start": "2027-03-01T11:00:00Z", "extra": 1}',
            422,
            "invalid",
        ),
        (b'{"a": "' + b"x" * 200_000 + b'"}', 413, "body_too_large"),
    ]
    for body, status, code in cases:
        response = await client.post("/api/bookings", content=body, headers=json_headers)
        assert (response.status_code, response.json()["error"]) == (status, code), body[:40]
        assert response.json()["detail"]
    assert (await client.get("/api/bookings", headers=me)).json() == []


async def test_unknown_routes_and_methods_answer_in_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nothing-here")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong_method = await client.delete("/api/services")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    unknown_booking = await client.get(
        "/api/bookings/000000000000000000000000", headers=await register(client)
    )
    assert (unknown_booking.status_code, unknown_booking.json()["error"]) == (
        404,
        "booking_not_found",
    )


async def test_health_metrics_and_schema(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() | {"promoter": None} == {
        "mongo": "ok",
        "queue_redis": "ok",
        "cache_redis": "ok",
        "promoter": None,
    }
    assert "holdfast_http_requests_total" in (await client.get("/metrics")).text
    schema = (await client.get("/schema")).json()
    assert "/api/bookings" in schema["paths"] and "/api/availability" in schema["paths"]


async def test_pages_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/", "/admin", "/static/book.js", "/static/app.css"):
        assert (await client.get(path)).status_code == 200, path
