"""The generic signed cancellation webhook: verified, stored once, decided by a job; a freed
slot reported five times or by two paths starts one chain."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.settings import Settings
from holdfast.waitlist.models import Offer, Opening
from holdfast.waitlist.webhook import sign
from pydantic import SecretStr

from tests.fakes import SmsServer, SmtpSink
from tests.integration.test_waitlist import START, join, person, work_off
from tests.support import Practice, with_senders

KEY = "webhook-signing-key-for-tests"


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, sms: SmsServer) -> Settings:
    senders = with_senders(settings, smtp.url, sms.url)
    return senders.model_copy(update={"webhook_signing_key": SecretStr(KEY)})


def event(appointment: str, **data: str) -> dict[str, Any]:
    return {
        "event_type": "appointment.cancelled",
        "event_timestamp": "2027-03-01T06:00:00Z",
        "data": {
            "appointment_id": appointment,
            "calendar_id": "cal_provider_A",
            "service_id": "serv_consult_60min",
            "start_time": START,
            "end_time": "2027-03-03T16:00:00Z",
            **data,
        },
    }


async def deliver(
    client: httpx.AsyncClient, body: dict[str, Any], signature: str | None = None
) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Signature": signature or sign(KEY, raw)}
    return await client.post("/webhooks/cancellations", content=raw, headers=headers)


async def process(ctx: Context, settings: Settings) -> None:
    await inbox.enqueue_received(ctx)  # the promoter's tick
    await work_off(ctx, settings)


async def name_externally(client: httpx.AsyncClient, practice: Practice) -> str:
    """London answers to calendar_id cal_provider_A; a new service to serv_consult_60min."""
    provider = await client.patch(
        f"/api/admin/providers/{practice.london}",
        json={"external_ids": ["cal_provider_A"]},
        headers=practice.admin,
    )
    assert provider.status_code == 200, provider.text
    service = await client.post(
        "/api/admin/services",
        json={"name": "Consult", "duration_minutes": 60, "slot_step_minutes": 60,
              "provider_ids": [practice.london], "external_ids": ["serv_consult_60min"]},
        headers=practice.admin,
    )  # fmt: skip
    assert service.status_code == 201, service.text
    return str(service.json()["id"])


async def test_a_bad_or_missing_signature_is_403_and_stores_nothing(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    forged = await deliver(client, event("appt_1"), signature="sha256=" + "0" * 64)
    assert (forged.status_code, forged.json()["error"]) == (403, "invalid_signature")
    raw = json.dumps(event("appt_1")).encode()
    unsigned = await client.post(
        "/webhooks/cancellations", content=raw, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 403
    listed = await client.get("/api/admin/webhooks", headers=practice.admin)
    assert listed.json() == []


async def test_unknown_ids_are_stored_and_rejected_with_the_reason(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings
) -> None:
    assert (await deliver(client, event("appt_1"))).status_code == 200
    await process(ctx, settings)
    [delivery] = (
        await client.get(
            "/api/admin/webhooks", params={"source": "cancellations"}, headers=practice.admin
        )
    ).json()
    assert delivery["status"] == "rejected"
    assert "cal_provider_A" in delivery["reason"]
    assert await Opening.find_all().count() == 0


async def test_one_cancellation_five_times_and_by_two_paths_is_one_chain(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
) -> None:
    consult = await name_externally(client, practice)
    waiting, phone = await person(client)
    await join(client, consult, waiting)

    # A foreign appointment, reported five times (the same body) and once more re-stamped.
    answers = [await deliver(client, event("appt_9")) for _ in range(5)]
    assert [a.json()["status"] for a in answers] == ["received"] + ["duplicate"] * 4
    restamped = {**event("appt_9"), "event_timestamp": "2027-03-01T06:00:05Z"}
    assert (await deliver(client, restamped)).status_code == 200
    await process(ctx, settings)
    assert await Opening.find_all().count() == 1
    assert await Offer.find_all().count() == 1
    assert [m["To"] for m in sms.received if "opening" in m["Body"]] == [phone]
    deliveries = (
        await client.get(
            "/api/admin/webhooks", params={"source": "cancellations"}, headers=practice.admin
        )
    ).json()
    assert sorted(d["status"] for d in deliveries) == ["processed", "processed"]


async def test_an_appointment_id_naming_a_holdfast_booking_cancels_it_once(
    client: httpx.AsyncClient,
    practice: Practice,
    ctx: Context,
    settings: Settings,
    sms: SmsServer,
) -> None:
    waiting, phone = await person(client)
    await join(client, practice.session, waiting)
    owner, _ = await person(client)
    body = {"service_id": practice.session, "provider_id": practice.london, "start": START}
    made = (await client.post("/api/bookings", json=body, headers=owner)).json()
    await work_off(ctx, settings)

    # The platform reports it, and the client cancels it through the API as well.
    assert (await deliver(client, event(made["id"]))).status_code == 200
    await client.post(f"/api/bookings/{made['id']}/cancel", json={}, headers=owner)
    await process(ctx, settings)
    assert (await client.get(f"/api/bookings/{made['id']}", headers=owner)).json()[
        "status"
    ] == "cancelled"
    assert await Opening.find_all().count() == 1
    assert [m["To"] for m in sms.received if "opening" in m["Body"]] == [phone]
