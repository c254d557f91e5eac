from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from holdfast.catalog import service as catalog_service
from holdfast.catalog.models import Service
from holdfast.catalog.snapshots import CatalogSnapshots
from holdfast.context import Context

from tests.support import Practice, make_admin, register


async def test_catalog_is_public_and_shaped_as_the_contract_says(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    services = (await client.get("/api/services")).json()
    session = next(s for s in services if s["id"] == practice.session)
    assert session["duration_minutes"] == 60
    assert session["price"] == {"amount_cents": 9000, "currency": "GBP"}
    assert set(session["provider_ids"]) == {practice.london, practice.new_york}
    assert next(s for s in services if s["id"] == practice.short)["price"] is None
    assert session["calendly"] is False  # no Calendly configured: the page hides "Book now"
    providers = {p["id"]: p for p in (await client.get("/api/providers")).json()}
    assert providers[practice.new_york]["timezone"] == "America/New_York"


async def test_invalid_catalog_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    admin = await make_admin(client, ctx)
    bad_tz = await client.post(
        "/api/admin/providers", json={"name": "X", "timezone": "Nowhere/City"}, headers=admin
    )
    assert bad_tz.status_code == 422 and bad_tz.json()["error"] == "invalid_timezone"
    assert (await client.get("/api/providers")).json() == []

    created = await client.post(
        "/api/admin/providers", json={"name": "X", "timezone": "UTC"}, headers=admin
    )
    pid = created.json()["id"]
    for rules in (
        [{"weekday": 7, "start": "09:00", "end": "17:00"}],
        [{"weekday": 0, "start": "17:00", "end": "09:00"}],
        [{"weekday": 0, "start": "9am", "end": "17:00"}],
        [{"weekday": 0, "start": "09:03", "end": "17:00"}],
    ):
        response = await client.put(
            f"/api/admin/providers/{pid}/availability", json={"rules": rules}, headers=admin
        )
        assert response.status_code == 422, rules
    hours = (await client.get(f"/api/providers/{pid}/availability")).json()
    assert hours["rules"] == []

    for change in (
        {"duration_minutes": 7},
        {"provider_ids": ["000000000000000000000000"]},
        {"provider_ids": []},
    ):
        body = {"name": "S", "duration_minutes": 30, "provider_ids": [pid], **change}
        response = await client.post("/api/admin/services", json=body, headers=admin)
        assert response.status_code == 422, change
    assert (await client.get("/api/services")).json() == []


async def test_weekly_hours_and_exceptions_round_trip(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    admin = await make_admin(client, ctx)
    pid = (
        await client.post(
            "/api/admin/providers", json={"name": "X", "timezone": "Asia/Kathmandu"}, headers=admin
        )
    ).json()["id"]
    body = {
        "rules": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "13:00", "end": "17:00"},
        ],
        "exceptions": [
            {"date": "2027-03-08"},
            {"date": "2027-03-15", "start": "10:00", "end": "11:00"},
        ],
    }
    saved = await client.put(f"/api/admin/providers/{pid}/availability", json=body, headers=admin)
    assert saved.status_code == 200
    read = await client.get(f"/api/providers/{pid}/availability")  # stored, not just echoed
    expected = {
        "rules": body["rules"],
        "exceptions": [{"date": "2027-03-08", "start": None, "end": None}, body["exceptions"][1]],
    }
    for hours in (saved.json(), read.json()):
        assert {k: hours[k] for k in expected} == expected


async def test_book_now_without_calendly_is_a_clear_503(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    response = await client.post("/api/book-now", json={"service_id": practice.session}, headers=me)
    assert (response.status_code, response.json()["error"]) == (503, "calendly_not_configured")


async def test_bookings_see_a_catalog_change_made_here_at_once(
    client: httpx.AsyncClient, ctx: Context, practice: Practice
) -> None:
    me = await register(client)
    slot = {"service_id": practice.session, "provider_id": practice.london}
    booked = await client.post(
        "/api/bookings", json={**slot, "start": "2027-03-01T10:00:00Z"}, headers=me
    )
    assert booked.status_code == 201  # the booking path now holds a snapshot of the service
    closed = await client.put(
        f"/api/admin/providers/{practice.london}/availability",
        json={"rules": [], "exceptions": [{"date": "2027-03-01"}]},
        headers=practice.admin,
    )
    assert closed.status_code == 200
    refused = await client.post(
        "/api/bookings", json={**slot, "start": "2027-03-01T12:00:00Z"}, headers=me
    )
    assert refused.status_code == 422 and refused.json()["error"] == "not_a_slot"


async def test_another_process_catalog_change_shows_within_the_snapshot_age(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    ticks = [100.0]
    snapshots = CatalogSnapshots(max_age=1.0, monotonic=lambda: ticks[0])
    service, _ = await snapshots.service_with_providers(practice.session)
    assert service.duration_minutes == 60
    # Another process changes the service: no event reaches this one.
    await Service.get_pymongo_collection().update_one(
        {"_id": service.id}, {"$set": {"duration_minutes": 30}}
    )
    ticks[0] += 0.9
    still, _ = await snapshots.service_with_providers(practice.session)
    assert still.duration_minutes == 60
    ticks[0] += 0.2
    fresh, providers = await snapshots.service_with_providers(practice.session)
    assert fresh.duration_minutes == 30
    assert [str(p.id) for p in providers] == sorted([practice.london, practice.new_york])


async def edit_at_once(*edits: Awaitable[httpx.Response]) -> list[httpx.Response]:
    """Run the edits concurrently, each held after it reads the provider until all have read
    it: the interleaving in which a read-then-save edit reverts another admin's change. (An
    edit that does not read first is not held.)"""
    everyone_read = asyncio.Barrier(len(edits))
    read_provider = catalog_service.get_provider

    async def read_then_wait(provider_id: str) -> Any:
        provider = await read_provider(provider_id)
        await asyncio.wait_for(everyone_read.wait(), 10)
        return provider

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(catalog_service, "get_provider", read_then_wait)
        return list(await asyncio.gather(*edits))


async def test_two_admins_editing_a_provider_at_once_both_keep_their_change(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    provider = f"/api/admin/providers/{practice.london}"
    hours = {"rules": [{"weekday": 5, "start": "10:00", "end": "14:00"}]}  # Saturdays now
    renamed, reopened = await edit_at_once(
        client.put(
            provider, json={"name": "Ada L.", "timezone": "Europe/London"}, headers=practice.admin
        ),
        client.put(f"{provider}/availability", json=hours, headers=practice.admin),
    )
    assert (renamed.status_code, reopened.status_code) == (200, 200), renamed.text + reopened.text
    listed = {p["id"]: p for p in (await client.get("/api/providers")).json()}
    assert listed[practice.london]["name"] == "Ada L."
    stored = (await client.get(f"/api/providers/{practice.london}/availability")).json()
    assert stored["rules"] == hours["rules"]


async def test_a_partial_edit_changes_only_the_fields_it_sends(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    provider = f"/api/admin/providers/{practice.new_york}"
    responses = await edit_at_once(
        client.patch(provider, json={"name": "Samantha"}, headers=practice.admin),
        client.patch(provider, json={"timezone": "America/Chicago"}, headers=practice.admin),
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    listed = {p["id"]: p for p in (await client.get("/api/providers")).json()}
    assert listed[practice.new_york] == {
        "id": practice.new_york,
        "name": "Samantha",
        "timezone": "America/Chicago",
    }
    hours = (await client.get(f"/api/providers/{practice.new_york}/availability")).json()
    assert len(hours["rules"]) == 5  # untouched by either edit

    for bad in ({"name": None}, {"timezone": "Nowhere/City"}, {"colour": "red"}):
        refused = await client.patch(provider, json=bad, headers=practice.admin)
        assert refused.status_code == 422, bad
    missing = await client.patch(
        "/api/admin/providers/000000000000000000000000", json={"name": "X"}, headers=practice.admin
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "provider_not_found")
    listed = {p["id"]: p for p in (await client.get("/api/providers")).json()}
    assert listed[practice.new_york]["name"] == "Samantha"
