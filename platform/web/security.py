"""What protects a browser user: cross-site request refusal and the security headers.

A request authenticated only by the session cookie could have been sent by any page the user
has open (a form posted to us, a `fetch` with `credentials: 'include'`): the browser adds the
cookie whoever asks. So a state-changing request that carries the cookie and no Bearer token
must show it came from our own pages: its Origin (or, from a browser that sends none, its
Referer) must be the public URL's origin or the origin the request was addressed to (its Host:
how `holdfast dev` is reached as localhost or 127.0.0.1 on any port). With neither header, a
browser's `Sec-Fetch-Site: same-origin` is accepted. Bearer-token API calls cannot be forged by
another page (it cannot read the token), and webhooks carry no session: both are exempt (the
webhooks are served outside this layer altogether, see `holdfast.web.app`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from holdfast.errors import Forbidden
from holdfast.settings import Settings
from holdfast.web.auth import SESSION_COOKIE
from holdfast.web.errors import send_domain_error
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An offer link's token is its authentication (whoever holds the link may claim or decline, from
# any page or none, as the SMS promises), so a cookie adds nothing.
EXEMPT_PREFIXES = ("/offers/",)
HSTS_SECONDS = 365 * 24 * 3600


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased, or None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _headers(scope: Scope) -> dict[bytes, str]:
    return {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def _has_session_cookie(cookie_header: str) -> bool:
    return any(
        part.strip().partition("=")[0] == SESSION_COOKIE for part in cookie_header.split(";")
    )


def from_our_pages(scope: Scope, public_origin: str | None) -> bool:
    """Whether a browser says this request was made by a page of ours."""
    headers = _headers(scope)
    claimed = headers.get(b"origin") or headers.get(b"referer")
    if claimed is None:
        return headers.get(b"sec-fetch-site") == "same-origin"
    origin = origin_of(claimed)
    if origin is None:  # "null" (a sandboxed frame, a file) or nonsense
        return False
    own = origin_of(f"{scope.get('scheme', 'http')}://{headers.get(b'host', '')}")
    # The scheme may differ behind a TLS-terminating proxy: the Host is what names us.
    same_host = own is not None and urlsplit(origin).netloc == urlsplit(own).netloc
    return origin == public_origin or same_host


def needs_proof(scope: Scope) -> bool:
    """A state-changing request that only the session cookie authenticates."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return False
    if str(scope.get("path", "")).startswith(EXEMPT_PREFIXES):
        return False
    headers = _headers(scope)
    if headers.get(b"authorization", "").lower().startswith("bearer "):
        return False
    return _has_session_cookie(headers.get(b"cookie", ""))


class CrossSiteRefusal(ASGIMiddleware):
    """403 `cross_site_request` for a cookie-authenticated change that did not come from us."""

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, settings: Settings) -> None:
        self.public_origin = origin_of(settings.public_url)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if needs_proof(scope) and not from_our_pages(scope, self.public_origin):
            refused = Forbidden(
                "This request used your Holdfast session but did not come from Holdfast's own "
                "pages, so it was refused. Use Holdfast's pages, or an API client with "
                "'Authorization: Bearer <token>'.",
                code="cross_site_request",
            )
            await send_domain_error(send, refused)
            return
        await next_app(scope, receive, send)


# --- headers on every response -------------------------------------------------------------

PAGE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(extra: dict[str, str] | None = None) -> str:
    policy = dict(PAGE_POLICY)
    for directive, sources in (extra or {}).items():
        policy[directive] = f"{policy.get(directive, '')} {sources}".strip()
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


def docs_policy(asset_urls: Iterable[str]) -> str:
    """The API docs page (Swagger UI): its scripts and stylesheet from wherever they are served
    (our own static files, or a CDN while they are not), and the inline styles Swagger UI's
    components set. Its scripts are never inline (see `holdfast.web.apidocs`)."""
    origins = " ".join(sorted({o for url in asset_urls if (o := origin_of(url))}))
    return content_security_policy(
        {"script-src": origins, "style-src": f"{origins} 'unsafe-inline'".strip()}
    )


class SecurityHeaders:
    """A `before_send` hook: every response the app sends (pages, API, errors, cache hits,
    refusals by middleware) gets the same headers."""

    def __init__(
        self, settings: Settings, *, docs_path: str, docs_assets: Iterable[str] = ()
    ) -> None:
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if settings.public_url.lower().startswith("https://"):
            common.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
        self.docs_path = docs_path
        self.page = [*common, (b"content-security-policy", content_security_policy().encode())]
        self.docs = [*common, (b"content-security-policy", docs_policy(docs_assets).encode())]

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        added = self.docs if scope.get("path") == self.docs_path else self.page
        message["headers"] = [*message.get("headers", []), *added]
