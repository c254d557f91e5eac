"""/metrics tells process names, login counts and the backlog: only Prometheus may read it,
by its bearer token or from an allowed address (loopback by default)."""

from __future__ import annotations

import httpx
import pytest
from holdfast.settings import Settings
from litestar import Litestar
from pydantic import SecretStr

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "metrics_token": SecretStr(TOKEN),
            "metrics_allow": "127.0.0.1,::1,10.0.0.0/8",
            "rate_limit_requests": 30,
        }
    )


def from_address(app: Litestar, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_metrics_need_the_token_or_an_allowed_address(app: Litestar) -> None:
    async with from_address(app, "203.0.113.9") as outsider:
        refused = await outsider.get("/metrics")
        assert refused.status_code == 403 and refused.json()["error"] == "metrics_forbidden"
        assert "holdfast_" not in refused.text and refused.json()["detail"]
        wrong = await outsider.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 403
        scraped = await outsider.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200 and "holdfast_http_requests_total" in scraped.text
    for address in ("127.0.0.1", "10.1.2.3"):  # loopback, and the allowed network
        async with from_address(app, address) as allowed:
            assert (await allowed.get("/metrics")).status_code == 200, address
    # Through a reverse proxy on this host (it adds X-Forwarded-For) with no trusted proxies
    # configured, the request only looks local: it is refused.
    async with from_address(app, "127.0.0.1") as proxied:
        forwarded = await proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 403


async def test_metrics_refusals_count_against_the_rate_limit(
    app: Litestar, settings: Settings
) -> None:
    async with from_address(app, "203.0.113.10") as guesser:
        statuses = [
            (await guesser.get("/metrics")).status_code
            for _ in range(settings.rate_limit_requests + 1)
        ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {403}
