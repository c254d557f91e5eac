"""The integrations board: with nothing configured every integration is listed, off, with what
to set to turn it on; a configured one is listed on."""

from __future__ import annotations

import httpx
import pytest
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.support import Practice, register


async def test_every_integration_is_listed_off_with_nothing_configured(
    client: httpx.AsyncClient, practice: Practice, settings: Settings
) -> None:
    found = await client.get("/api/admin/integrations", headers=practice.admin)
    assert found.status_code == 200, found.text
    rows = {row["integration"]: row for row in found.json()}
    assert set(rows) == {"google", "zoom", "calendly", "stripe", "smtp", "sms"}
    assert all(row["state"] == "off" for row in rows.values())
    assert "HOLDFAST_GOOGLE_CLIENT_ID" in rows["google"]["detail"]
    connect = await client.get(
        f"/api/admin/providers/{practice.london}/google/connect", headers=practice.admin
    )
    assert connect.status_code == 503 and connect.json()["error"] == "google_not_configured"
    nobody = await client.get("/api/admin/integrations", headers=await register(client))
    assert nobody.status_code == 403


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(update=getattr(request, "param", {}))


@pytest.mark.parametrize(
    "settings", [{"stripe_secret_key": SecretStr("sk_test_board")}], indirect=True
)
async def test_stripe_configured_is_listed_as_taking_payments(
    client: httpx.AsyncClient, practice: Practice, settings: Settings
) -> None:
    found = await client.get("/api/admin/integrations", headers=practice.admin)
    [stripe] = [row for row in found.json() if row["integration"] == "stripe"]
    assert stripe["state"] == "connected", stripe
    assert "Stripe" in stripe["detail"]
