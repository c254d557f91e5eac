"""The console's Settings section through the API: the effective configuration an operator needs
to see, read-only, with every secret withheld."""

from __future__ import annotations

import httpx
import pytest
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.support import Practice, register

SECRETS = {
    "smtp_url": "hunter2-mail-password",
    "stripe_secret_key": "sk_test_do_not_show_me",
    "stripe_webhook_secret": "whsec_do_not_show_me",
    "sms_token": "sms-token-do-not-show",
    "alert_webhook_url": "T0B0-chat-webhook-token",
    "alert_webhook_secret": "alert-signing-secret-do-not-show",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://mailer:{SECRETS['smtp_url']}@127.0.0.1:2525",
            "stripe_secret_key": SecretStr(SECRETS["stripe_secret_key"]),
            "stripe_webhook_secret": SecretStr(SECRETS["stripe_webhook_secret"]),
            "sms_url": "https://sms.example.com/Messages.json",
            "sms_token": SecretStr(SECRETS["sms_token"]),
            "alert_webhook_url": f"https://chat.example.com/hooks/{SECRETS['alert_webhook_url']}",
            "alert_webhook_secret": SecretStr(SECRETS["alert_webhook_secret"]),
            "mail_from": "Calm Clinic <hello@calm.example>",
            "practice_address": "1 High Street, Bath",
            "payment_hold_minutes": 20,
        }
    )


async def test_the_operator_sees_the_effective_settings_and_never_a_secret(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    found = await client.get("/api/admin/settings", headers=practice.admin)
    assert found.status_code == 200, found.text
    for name, secret in SECRETS.items():
        assert secret not in found.text, name
    assert "test-secret-key" not in found.text  # HOLDFAST_SECRET_KEY itself

    shown = found.json()
    assert shown["read_only"] is True and "environment" in shown["how_to_change"]
    assert (shown["practice_name"], shown["practice_address"], shown["your_timezone"]) == (
        "Calm Clinic", "1 High Street, Bath", "UTC"
    )  # fmt: skip
    settings = {s["name"]: s for section in shown["sections"] for s in section["settings"]}
    # Every setting there is, once (a new one shows up by itself).
    assert len(settings) == len(Settings.model_fields)
    assert sorted(settings) == sorted(Settings.model_fields)
    hold = settings["payment_hold_minutes"]
    assert (hold["variable"], hold["value"], hold["default"]) == (
        "HOLDFAST_PAYMENT_HOLD_MINUTES", 20, False
    )  # fmt: skip
    assert settings["booking_horizon_days"]["value"] == 365
    assert settings["booking_horizon_days"]["default"] is True
    assert (settings["stripe_secret_key"]["value"], settings["stripe_secret_key"]["secret"]) == (
        "set", True
    )  # fmt: skip
    assert settings["calendly_signing_key"]["value"] == "not set"
    assert settings["secret_key"]["value"] == "set"
    assert settings["alert_webhook_url"]["value"] == "set"
    assert settings["smtp_url"]["value"] == "smtp://mailer:****@127.0.0.1:2525"
    assert settings["rate_limit_requests"]["description"]

    integrations = {i["name"]: i for i in shown["integrations"]}
    assert integrations["stripe"]["configured"] is True
    assert integrations["stripe"]["parameters"]["webhook_secret"] == "set"
    assert integrations["stripe"]["parameters"]["payment_hold_minutes"] == 20
    assert integrations["google"]["configured"] is False
    assert integrations["zoom"]["configured"] is False
    assert integrations["smtp"]["parameters"]["url"] == "smtp://mailer:****@127.0.0.1:2525"
    assert integrations["sms"]["parameters"]["token"] == "set"

    as_client = await client.get("/api/admin/settings", headers=await register(client))
    assert as_client.status_code == 403
