"""The issue's proof with the real processes (api, promoter, worker): while the SMTP server
refuses, the alert about failing deliveries reaches the webhook at once; the admin's email
arrives when SMTP accepts again, and a resolved email follows."""

from __future__ import annotations

import json
from contextlib import ExitStack

import httpx
import pytest
from holdfast.settings import Settings

from tests.browser.conftest import Site, open_practice
from tests.fakes import SmtpSink
from tests.fakes.alerts import AlertReceiver
from tests.support import (
    api_process,
    create_admin,
    holdfast_process,
    login,
    register_sync,
    settings_env,
    wait_until,
)

pytestmark = pytest.mark.slow
ALERT = "[Holdfast] Alert: messages are failing to deliver"
RESOLVED = "[Holdfast] Resolved: messages are failing to deliver"


def _states(receiver: AlertReceiver) -> list[str]:
    return [b["state"] for b in receiver.bodies() if b["rule"] == "delivery_failures"]


def _to_admin(smtp: SmtpSink) -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages if m["To"] == "admin@example.com"]


@pytest.mark.timeout(180)
def test_smtp_refusing_for_a_while_alerts_then_resolves(settings: Settings, smtp: SmtpSink) -> None:
    receiver = AlertReceiver().start()
    env = settings_env(settings)
    env.update(
        HOLDFAST_SMTP_URL=smtp.url,
        HOLDFAST_ALERT_WEBHOOK_URL=receiver.url + "/alerts",
        HOLDFAST_ALERT_INTERVAL_SECONDS="5",
        HOLDFAST_PROMOTER_TICK_SECONDS="0.2",
        HOLDFAST_JOB_TIMEOUT_SECONDS="5",
        HOLDFAST_SEND_TIMEOUT_SECONDS="3",
    )
    create_admin(env)
    smtp.refuse = 10**6
    with ExitStack() as stack:
        stack.callback(receiver.stop)
        url = stack.enter_context(api_process(env))
        stack.enter_context(holdfast_process(env, "promoter"))
        stack.enter_context(holdfast_process(env, "worker"))
        site = Site(url=url, admin=login(url, "admin@example.com", "admin password"))
        provider, service = open_practice(site)
        me = register_sync(url, "client@example.com")
        slots = httpx.get(f"{url}/api/availability", params={"service_id": service}).json()
        body = {"service_id": service, "provider_id": provider, "start": slots["slots"][3]["start"]}
        assert httpx.post(f"{url}/api/bookings", json=body, headers=me).status_code == 201

        wait_until(lambda: _states(receiver) == ["opened"], 60, "the webhook's alert")
        assert _to_admin(smtp) == []  # SMTP still refuses: the email waits
        smtp.refuse = smtp.refused  # SMTP accepts again
        wait_until(lambda: RESOLVED in _to_admin(smtp), 90, "the resolved email")
    assert _to_admin(smtp) == [ALERT, RESOLVED]
    assert _states(receiver) == ["opened", "resolved"]
    [(headers, raw), _] = [r for r in receiver.received if b'"delivery_failures"' in r[1]]
    assert "x-holdfast-signature" not in headers  # no secret set: unsigned
    assert json.loads(raw)["incident"].startswith("delivery_failures:")
