"""What a browser gets from us: requests made with the session cookie must come from our own
pages (CSRF), and every response carries the security headers (CSP without inline scripts,
nosniff, a referrer policy, no framing, HSTS when the public URL is https)."""

from __future__ import annotations

import json
import re

import httpx
from holdfast.cache.middleware import ResponseCacheMiddleware
from holdfast.settings import Settings
from holdfast.web.console import SECTIONS
from holdfast.web.metrics import RequestMetrics
from holdfast.web.ratelimit import RateLimitMiddleware
from holdfast.web.security import CrossSiteRefusal
from litestar import Litestar

from tests.support import Practice, http_handlers

MONDAY_11 = "2027-03-01T11:00:00Z"
EVIL = "https://evil.example"


async def log_in_with_cookie(client: httpx.AsyncClient, email: str) -> None:
    """Register and log in as a browser would: the session lives in the cookie only."""
    body = {"email": email, "password": "correct horse", "name": "Cat", "timezone": "UTC"}
    assert (await client.post("/api/auth/register", json=body)).status_code == 201
    login = await client.post("/api/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200 and "holdfast_session" in client.cookies


def booking_body(practice: Practice, start: str = MONDAY_11) -> bytes:
    return json.dumps(
        {"service_id": practice.session, "provider_id": practice.london, "start": start}
    ).encode()


async def test_a_cross_site_form_post_with_the_cookie_is_refused(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    await log_in_with_cookie(client, "cat@example.com")
    # What <form method=post enctype=text/plain action=…/api/bookings> on another site sends:
    # the browser adds our cookie, its own Origin, and a body the attacker shaped as JSON.
    forged = await client.post(
        "/api/bookings",
        content=booking_body(practice),
        headers={"content-type": "text/plain", "origin": EVIL, "sec-fetch-site": "cross-site"},
    )
    assert forged.status_code == 403, forged.text
    assert forged.json()["error"] == "cross_site_request" and forged.json()["detail"]
    # An older browser that sends only a Referer is judged by it.
    by_referer = await client.post(
        "/api/bookings",
        content=booking_body(practice),
        headers={"content-type": "application/json", "referer": f"{EVIL}/page.html"},
    )
    assert by_referer.status_code == 403
    # No trace of either: nothing was booked.
    assert (await client.get("/api/bookings")).json() == []


async def test_a_cross_origin_fetch_with_the_cookie_is_refused(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    await log_in_with_cookie(client, "dee@example.com")
    booked = await client.post(
        "/api/bookings",
        content=booking_body(practice),
        headers={"content-type": "application/json", "origin": "http://testserver"},
    )
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]
    # fetch('…/cancel', {method: 'POST', credentials: 'include'}) from another origin, and one
    # with no origin at all (a sandboxed frame sends "null").
    for origin in (EVIL, "http://testserver.evil.example", "null"):
        cancel = await client.post(
            f"/api/bookings/{booking_id}/cancel",
            json={"reason": "forged"},
            headers={"origin": origin},
        )
        assert cancel.status_code == 403 and cancel.json()["error"] == "cross_site_request"
    # Logging out is a change of state too.
    logout = await client.post("/api/auth/logout", headers={"origin": EVIL})
    assert logout.status_code == 403
    assert (await client.get(f"/api/bookings/{booking_id}")).json()["status"] == "confirmed"


async def test_our_own_pages_and_api_clients_still_work(
    client: httpx.AsyncClient, practice: Practice, settings: Settings
) -> None:
    await log_in_with_cookie(client, "eli@example.com")
    own = [
        {"origin": "http://testserver"},  # the page's own origin (the Host it was served from)
        {"origin": settings.public_url},  # the configured public URL (behind a proxy)
        {"referer": "http://testserver/"},  # a browser that sends no Origin
        {"sec-fetch-site": "same-origin"},  # ... but says where the request came from
    ]
    days = iter(f"2027-03-0{day}T10:00:00Z" for day in range(1, 6))
    for headers in own[:3]:
        booked = await client.post(
            "/api/bookings",
            content=booking_body(practice, next(days)),
            headers={"content-type": "application/json", **headers},
        )
        assert booked.status_code == 201, (headers, booked.text)
    fetched = await client.post(
        "/api/bookings",
        content=booking_body(practice, next(days)),
        headers={"content-type": "application/json", **own[3]},
    )
    assert fetched.status_code == 201
    # A cookie-less API client is not a browser: its Bearer token is the proof.
    client.cookies.clear()
    token = (
        await client.post(
            "/api/auth/login", json={"email": "eli@example.com", "password": "correct horse"}
        )
    ).json()["token"]
    client.cookies.clear()  # the login set it again
    api = await client.post(
        "/api/bookings",
        content=booking_body(practice, next(days)),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert api.status_code == 201
    # Webhooks are exempt (verified by signature instead): this one reaches its handler.
    client.cookies.set("holdfast_session", token)
    hook = await client.post("/webhooks/calendly", content=b"{}", headers={"origin": EVIL})
    assert hook.json()["error"] != "cross_site_request"


CSP_NEEDS = ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'")


def script_sources(csp: str) -> str:
    found = re.search(r"script-src ([^;]*)", csp)
    return found.group(1) if found else ""


async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    paths = [
        "/",
        "/admin",  # a redirect
        "/admin/today",
        "/static/book.js",
        "/api/services",
        "/api/services",  # the same answered from the cache
        "/api/nothing-here",  # a 404
        "/api/me",  # a 401
        "/health/ready",
        "/schema/openapi.json",
        "/schema/swagger",
    ]
    for path in paths:
        response = await client.get(path)
        headers = response.headers
        csp = headers.get("content-security-policy", "")
        assert all(part in csp for part in CSP_NEEDS), (path, csp)
        assert "'unsafe-inline'" not in script_sources(csp), (path, csp)
        assert "unsafe-eval" not in csp, path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "same-origin", path
        assert headers.get("x-frame-options") == "DENY", path
        assert "strict-transport-security" not in headers, path  # http: no HSTS
    assert (await client.get("/api/services")).headers["x-cache"] == "hit"


PAGES = [
    "/",
    "/account",
    "/reset-password",
    "/schema/swagger",
    *(f"/admin/{section}" for section, _ in SECTIONS),
]


async def test_pages_run_no_inline_script(client: httpx.AsyncClient) -> None:
    """A CSP without 'unsafe-inline' would break any inline script: there must be none."""
    for path in PAGES:
        html = (await client.get(path)).text
        for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S | re.I):
            assert not tag.strip(), (path, tag[:80])
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, flags=re.I), path
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), path  # onclick="…" etc.
        assert "javascript:" not in html.lower(), path


async def test_hsts_when_the_public_url_is_https(settings: Settings) -> None:
    from holdfast.web.app import create_app

    app: Litestar = create_app(settings.model_copy(update={"public_url": "https://x.example"}))
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://a") as http:
        for path in ("/", "/api/services", "/api/nothing-here"):
            hsts = (await http.get(path)).headers.get("strict-transport-security", "")
            assert hsts.startswith("max-age="), (path, hsts)
            assert int(hsts.removeprefix("max-age=").split(";")[0]) >= 15552000


def test_every_route_but_the_senders_webhooks_refuses_cross_site_requests(app: Litestar) -> None:
    """The webhooks are served outside the cross-site, rate-limit and cache layers (they cost an
    acknowledgement time); every other handler must keep all three, and every one is counted."""
    gated = {CrossSiteRefusal, RateLimitMiddleware, ResponseCacheMiddleware}
    handlers = http_handlers(app)
    assert len(handlers) > 50  # the scan found the API and the pages
    webhooks = sorted({path for path, _ in handlers if path.startswith("/webhooks/")})
    assert webhooks == [
        "/webhooks/calendly",
        "/webhooks/cancellations",
        "/webhooks/google/calendar",
        "/webhooks/stripe",
    ]
    for path, handler in handlers:
        layers = [type(m) for m in handler.resolve_middleware()]  # innermost first
        # Metrics outermost, so they time and count everything below them.
        assert layers[-1:] == [RequestMetrics], (path, handler.http_methods)
        # Litestar serves the API's document (/schema/...) at the app's layer too: reads only,
        # never rate limited nor cached, so those layers would have nothing to do.
        docs = path.startswith("/schema") and handler.http_methods <= {"GET", "HEAD", "OPTIONS"}
        expected = set() if path in webhooks or docs else gated
        assert set(layers) - {RequestMetrics} == expected, (path, handler.http_methods)
