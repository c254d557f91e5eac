"""Long lists come in pages: upcoming bookings first, every admin list paged by a cursor the
`Link` and `X-Next-Cursor` headers carry, and pages that stay right through the cache."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from holdfast.calendly.signature import sign
from holdfast.context import Context
from holdfast.settings import Settings
from pydantic import SecretStr

from tests.conftest import Clock
from tests.support import Practice, register, run_all_due

CALENDLY_KEY = "calendly-signing-key"
NEXT = re.compile(r'^<(/[^>]*)>; rel="next"$')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"calendly_signing_key": SecretStr(CALENDLY_KEY)})


async def pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following its `Link: <…>; rel="next"` to the end."""
    found: list[list[dict[str, Any]]] = []
    target: str | None = path
    while target is not None:
        query = params if params and not found else None  # later pages: the link says it all
        response = await client.get(target, params=query, headers=headers)
        assert response.status_code == 200, response.text
        found.append(response.json())
        target = None
        if link := response.headers.get("link"):
            match = NEXT.match(link)
            assert match, link
            target = match.group(1)
            assert f"cursor={response.headers['x-next-cursor']}" in target
        assert len(found) < 50, "the pages never end"
    return found


def ids(found: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in found for item in page]


async def book_many(
    client: httpx.AsyncClient, practice: Practice, me: dict[str, str], count: int
) -> list[dict[str, Any]]:
    """`count` bookings of the short service, every other slot over the next days."""
    offered = await client.get(
        "/api/availability", params={"service_id": practice.short, "days": 7}
    )
    starts = [slot["start"] for slot in offered.json()["slots"]][::2][:count]
    assert len(starts) == count
    made = []
    for start in starts:
        body = {"service_id": practice.short, "provider_id": practice.london, "start": start}
        response = await client.post("/api/bookings", json=body, headers=me)
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


async def test_bookings_come_upcoming_first_in_pages_a_cursor_carries_on(
    client: httpx.AsyncClient, practice: Practice, clock: Clock
) -> None:
    me = await register(client)
    made = await book_many(client, practice, me, 12)
    clock.now = clock.now.fromisoformat(made[4]["end"].replace("Z", "+00:00"))  # 5 are over
    past, upcoming = made[:5], made[5:]
    expected = [b["id"] for b in upcoming] + [b["id"] for b in reversed(past)]

    listed = await pages(client, "/api/bookings", me, limit=5)
    assert [len(page) for page in listed] == [5, 5, 2]
    assert ids(listed) == expected  # upcoming soonest first, then the past, latest first

    only = await pages(client, "/api/bookings", me, when="upcoming", limit=4)
    assert ids(only) == [b["id"] for b in upcoming]
    history = await pages(client, "/api/bookings", me, when="past", limit=4)
    assert ids(history) == [b["id"] for b in reversed(past)]

    # A booking made while someone pages through is listed once, in its place.
    first = await client.get("/api/bookings", params={"limit": 5}, headers=me)
    [later] = await book_many_after(client, practice, me, made[-1]["end"])
    rest = await pages(client, NEXT.match(first.headers["link"]).group(1), me)  # type: ignore[union-attr]
    seen = [b["id"] for b in first.json()] + ids(rest)
    assert seen == [*expected[:7], later["id"], *expected[7:]]

    everyone = await pages(client, "/api/bookings", practice.admin, limit=7)
    assert ids(everyone) == [*expected[:7], later["id"], *expected[7:]]


async def book_many_after(
    client: httpx.AsyncClient, practice: Practice, me: dict[str, str], after: str
) -> list[dict[str, Any]]:
    offered = await client.get(
        "/api/availability", params={"service_id": practice.short, "days": 14}
    )
    start = next(s["start"] for s in offered.json()["slots"] if s["start"] > after)
    body = {"service_id": practice.short, "provider_id": practice.london, "start": start}
    response = await client.post("/api/bookings", json=body, headers=me)
    assert response.status_code == 201, response.text
    return [response.json()]


async def test_a_cursor_is_only_good_for_the_list_that_gave_it(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me, other = await register(client), await register(client)
    await book_many(client, practice, me, 3)
    first = await client.get("/api/bookings", params={"limit": 1}, headers=me)
    cursor = first.headers["x-next-cursor"]
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for params, who in (
        ({"cursor": tampered}, me),
        ({"cursor": "not-a-cursor"}, me),
        ({"cursor": cursor, "when": "past"}, me),  # other filters
        ({"cursor": cursor}, other),  # someone else's list
        ({"cursor": "é" * 3000}, me),
    ):
        refused = await client.get("/api/bookings", params=params, headers=who)
        assert refused.status_code == 422, params
        assert refused.json()["error"] == "invalid_cursor", refused.text
    jobs_cursor = (
        await client.get("/api/admin/jobs", params={"limit": 1}, headers=practice.admin)
    ).headers["x-next-cursor"]
    mixed = await client.get(
        "/api/admin/users", params={"cursor": jobs_cursor}, headers=practice.admin
    )
    assert (mixed.status_code, mixed.json()["error"]) == (422, "invalid_cursor")
    for limit in (0, 501, "many"):
        bad = await client.get("/api/bookings", params={"limit": limit}, headers=me)
        assert bad.status_code == 422, limit
    assert (
        await client.get("/api/bookings", params={"when": "soon"}, headers=me)
    ).status_code == 422


async def test_pages_served_from_the_cache_keep_their_next_link(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    me = await register(client)
    made = await book_many(client, practice, me, 3)
    first = await client.get("/api/bookings", params={"limit": 2}, headers=me)
    again = await client.get("/api/bookings", params={"limit": 2}, headers=me)
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert again.headers["link"] == first.headers["link"]
    assert again.headers["x-next-cursor"] == first.headers["x-next-cursor"]
    second = await client.get("/api/bookings", params=NEXT_PARAMS(first), headers=me)
    assert second.headers["x-cache"] == "miss"  # another page, another entry
    assert [b["id"] for b in first.json() + second.json()] == [b["id"] for b in made]
    assert "link" not in second.headers
    whole = await client.get("/api/bookings", headers=me)
    assert whole.headers["x-cache"] == "miss" and len(whole.json()) == 3


def NEXT_PARAMS(response: httpx.Response) -> dict[str, str]:
    return dict(httpx.URL(NEXT.match(response.headers["link"]).group(1)).params)  # type: ignore[union-attr]


async def test_every_admin_list_comes_in_pages(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, settings: Settings, clock: Clock
) -> None:
    for _ in range(4):
        await register(client)
    me = await register(client)
    await book_many(client, practice, me, 4)
    await run_all_due(ctx, settings)  # confirmations: messages in the outbox
    for n in range(5):
        body = json.dumps({"event": "invitee.created", "payload": {"uri": f"https://c/i/{n}"}})
        t = int(clock.now.timestamp())
        signature = f"t={t},v1={sign(CALENDLY_KEY, t, body.encode())}"
        delivered = await client.post(
            "/webhooks/calendly",
            content=body,
            headers={"content-type": "application/json", "Calendly-Webhook-Signature": signature},
        )
        assert delivered.status_code == 200, delivered.text

    admin = practice.admin
    for path, params in (
        ("/api/admin/users", {}),
        ("/api/admin/jobs", {}),
        ("/api/admin/jobs", {"state": "succeeded"}),
        ("/api/admin/messages", {"status": "outbox"}),
        ("/api/admin/calendly", {}),
    ):
        whole = await client.get(path, params={**params, "limit": 500}, headers=admin)
        assert whole.status_code == 200 and "link" not in whole.headers
        assert len(whole.json()) >= 4, (path, whole.json())
        listed = await pages(client, path, admin, **params, limit=2)
        assert len(listed) > 1 and all(len(page) <= 2 for page in listed)
        assert ids(listed) == [item["id"] for item in whole.json()], path
    users = [u["email"] for u in (await client.get("/api/admin/users", headers=admin)).json()]
    assert users == sorted(users)


async def test_the_paging_parameters_and_headers_are_in_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/bookings",
        "/api/admin/users",
        "/api/admin/jobs",
        "/api/admin/messages",
        "/api/admin/calendly",
    ):
        operation = schema["paths"][path]["get"]
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert {"limit", "cursor"} <= set(parameters), path
        assert parameters["limit"]["schema"].get("maximum") == 500
        headers = operation["responses"]["200"]["headers"]
        for name in ("Link", "X-Next-Cursor"):
            assert headers[name]["schema"]["type"] == "string", (path, name)
    when = next(
        p for p in schema["paths"]["/api/bookings"]["get"]["parameters"] if p["name"] == "when"
    )
    assert "upcoming" in json.dumps(when)
