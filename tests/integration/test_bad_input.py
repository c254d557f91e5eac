"""Bad input gets a 4xx with an error code and a sentence, never a 500, and changes nothing."""

from __future__ import annotations

import json

import httpx
import structlog
from holdfast.web.bodies import json_bodies_only, takes_json_body
from litestar import Litestar

from tests.support import Practice, http_handlers, register


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
    for path in ("/", "/admin/today", "/static/book.js", "/static/app.css"):
        assert (await client.get(path)).status_code == 200, path


async def test_json_endpoints_take_only_json_bodies(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    """A cross-site form can send text/plain or form-encoded bodies without asking; they must
    neither book, cancel nor log in, however JSON-like they are."""
    me = await register(client)
    slot = {"service_id": practice.session, "provider_id": practice.london}
    body = json.dumps({**slot, "start": "2027-03-01T10:00:00Z"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        refused = await client.post(
            "/api/bookings", content=body, headers={**me, "content-type": content_type}
        )
        assert (refused.status_code, refused.json()["error"]) == (415, "unsupported_media_type")
        assert "application/json" in refused.json()["detail"]
    login = await client.post(
        "/api/auth/login",
        content=json.dumps({"email": "admin@example.com", "password": "admin password"}),
        headers={"content-type": "text/plain"},
    )
    assert (login.status_code, login.json()["error"]) == (415, "unsupported_media_type")
    assert "set-cookie" not in login.headers

    # Nothing was booked by the refused requests: the same slot is still free for a JSON one.
    booked = await client.post(
        "/api/bookings",
        content=body,
        headers={**me, "content-type": "application/json; charset=utf-8"},
    )
    assert booked.status_code == 201, booked.text
    cancel = f"/api/bookings/{booked.json()['id']}/cancel"
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        refused = await client.post(
            cancel, content='{"reason": "x"}', headers={**me, "content-type": content_type}
        )
        assert (refused.status_code, refused.json()["error"]) == (415, "unsupported_media_type")
    mine = await client.get(f"/api/bookings/{booked.json()['id']}", headers=me)
    assert mine.json()["status"] == "confirmed"
    # A cancel without any body needs no content type at all.
    cancelled = await client.post(cancel, headers=me)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


def test_every_json_endpoint_keeps_the_json_body_check(app: Litestar) -> None:
    """The check is the app's `before_request` hook, and Litestar runs only the innermost layer's
    hook: a controller or handler that set one of its own would silently drop the check."""
    takes_json = [handler for _, handler in http_handlers(app) if takes_json_body(handler)]
    assert len(takes_json) > 10  # bookings, login, catalog, ...: the scan found them
    without = [
        h.handler_name for h in takes_json if h.resolve_before_request() is not json_bodies_only
    ]
    assert without == []


async def test_instants_at_the_ends_of_the_calendar_and_beyond_the_horizon(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    """The clock stands at 2027-03-01 and the horizon is a year: later starts are refused."""
    me = await register(client)
    cases = [
        ("9999-12-31T23:59:59+14:00", "beyond_horizon"),
        ("9998-03-01T10:00:00Z", "beyond_horizon"),
        ("2031-03-03T10:00:00Z", "beyond_horizon"),  # a Monday, inside London's hours
        ("2028-03-06T10:00:00Z", "beyond_horizon"),  # a Monday just past the horizon
        ("0001-01-01T00:00:00+14:00", "invalid"),  # before year 1 in UTC
    ]
    for start, code in cases:
        response = await client.post(
            "/api/bookings",
            json={"service_id": practice.session, "provider_id": practice.london, "start": start},
            headers=me,
        )
        assert (response.status_code, response.json()["error"]) == (422, code), start
        assert response.json()["detail"]
    for day in ("9999-12-31", "2028-03-02"):
        far = await client.get(
            "/api/availability",
            params={"service_id": practice.session, "from": day, "days": 62, "tz": "Etc/GMT-14"},
        )
        assert (far.status_code, far.json()["error"]) == (422, "beyond_horizon"), day
    # The last day of the horizon is offered, but nothing past the horizon's instant.
    edge = await client.get(
        "/api/availability",
        params={"service_id": practice.session, "from": "2028-02-28", "days": 62},
    )
    assert edge.status_code == 200
    assert edge.json()["slots"]
    assert max(s["start"] for s in edge.json()["slots"]) < "2028-02-29T06:00:00Z"


async def test_deeply_nested_bodies_are_refused_quietly(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    depth = 10_000
    bodies = [
        b"[" * 32_000 + b"]" * 32_000,
        b'{"a":' * depth + b"1" + b"}" * depth,
        b'{"service_id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    ]
    with structlog.testing.capture_logs() as logs:
        for path in ("/api/auth/login", "/api/bookings"):
            for body in bodies:
                assert len(body) < 65_536
                response = await client.post(
                    path, content=body, headers={**me, "content-type": "application/json"}
                )
                assert response.status_code == 400, (path, body[:20], response.text)
                assert response.json()["error"] == "body_too_deep"
                assert response.json()["detail"]
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")], logs
