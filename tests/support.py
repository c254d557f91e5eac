"""HTTP helpers for tests: accounts and a small practice, made through the API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from holdfast.context import Context

_counter = itertools.count()


async def register(client: httpx.AsyncClient, *, email: str | None = None, timezone: str = "Europe/London") -> dict[str, str]:
    """Register and log in; the Authorization header for that user."""
    email = email or f"client{next(_counter)}@example.com"
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": "correct horse", "name": "Client", "timezone": timezone}
    )
    assert response.status_code == 201, response.text
    login = await client.post("/api/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    client.cookies.clear()  # tests authenticate with the Bearer token unless they say otherwise
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def make_admin(client: httpx.AsyncClient, ctx: Context) -> dict[str, str]:
    from holdfast.accounts.service import create_or_reset_admin

    await create_or_reset_admin(ctx, email="admin@example.com", password="admin password")
    login = await client.post("/api/auth/login", json={"email": "admin@example.com", "password": "admin password"})
    client.cookies.clear()
    return {"Authorization": f"Bearer {login.json()['token']}"}


@dataclass
class Practice:
    admin: dict[str, str]
    london: str
    new_york: str
    session: str  # 60 min, 15 min buffer after, hourly, both providers
    short: str  # 30 min, every 30 min, London only


async def build_practice(client: httpx.AsyncClient, ctx: Context) -> Practice:
    admin = await make_admin(client, ctx)

    async def provider(name: str, tz: str, start: str, end: str) -> str:
        created = await client.post("/api/admin/providers", json={"name": name, "timezone": tz}, headers=admin)
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        rules = [{"weekday": d, "start": start, "end": end} for d in range(5)]
        hours = await client.put(f"/api/admin/providers/{pid}/availability", json={"rules": rules}, headers=admin)
        assert hours.status_code == 200, hours.text
        return str(pid)

    london = await provider("Ada", "Europe/London", "09:00", "17:00")
    new_york = await provider("Sam", "America/New_York", "09:00", "17:00")

    async def service(body: dict[str, Any]) -> str:
        created = await client.post("/api/admin/services", json=body, headers=admin)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    session = await service(
        {"name": "Session", "duration_minutes": 60, "buffer_after_minutes": 15, "slot_step_minutes": 60,
         "price": {"amount_cents": 9000, "currency": "GBP"}, "provider_ids": [london, new_york]}
    )
    short = await service({"name": "Short", "duration_minutes": 30, "slot_step_minutes": 30, "provider_ids": [london]})
    return Practice(admin=admin, london=london, new_york=new_york, session=session, short=short)
