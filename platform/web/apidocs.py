"""The API documentation page (Swagger UI) without inline scripts, so the docs obey the same
Content-Security-Policy as every page (`holdfast.web.security`): the bundle and stylesheet are
our own static files (no CDN: the page works offline) and are started by our own
`/static/apidocs.js`, which reads the OpenAPI document from `data-spec-url`."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin

# Swagger UI's files, copied from the `swagger-ui-dist` npm package (its version and licence
# beside them): the docs work with no network beyond Holdfast, and under the page's policy.
VENDORED = "/static/vendor/swagger-ui"


class ApiDocsPage(SwaggerRenderPlugin):
    def __init__(self, *, spec_url: str, **kwargs: Any) -> None:
        # No favicon from a CDN, no inline <style>: nothing the policy would refuse.
        super().__init__(
            favicon="",
            style="",
            js_url=f"{VENDORED}/swagger-ui-bundle.js",
            standalone_preset_js_url=f"{VENDORED}/swagger-ui-standalone-preset.js",
            css_url=f"{VENDORED}/swagger-ui.css",
            **kwargs,
        )
        self.spec_url = spec_url

    @property
    def asset_urls(self) -> tuple[str, ...]:
        return (self.js_url, self.standalone_preset_js_url, self.css_url)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema.get("info", {}).get("title", "API")))
        scripts = "".join(
            f'<script src="{escape(url)}" defer></script>'
            for url in (self.js_url, self.standalone_preset_js_url, "/static/apidocs.js")
        )
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title} API</title>"
            f'<link rel="stylesheet" href="{escape(self.css_url)}">{scripts}</head>'
            f'<body><div id="swagger-container" data-spec-url="{escape(self.spec_url)}">'
            "</div></body></html>"
        ).encode()
