from __future__ import annotations

import httpx
from holdfast.context import Context

from tests.conftest import Clock
from tests.support import make_admin, register


async def test_register_login_and_me_with_token_and_cookie(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/auth/register",
        json={
            "email": "Ann@Example.com",
            "password": "long enough",
            "name": "Ann",
            "timezone": "Europe/Paris",
        },
    )
    assert created.status_code == 201
    user = created.json()
    assert (
        user["email"] == "Ann@example.com"  # normalised: the domain is case-insensitive
        and user["role"] == "client"
        and "password_hash" not in user
    )
    assert user["created_at"].endswith("Z")

    login = await client.post(
        "/api/auth/login", json={"email": "ann@EXAMPLE.com", "password": "long enough"}
    )
    assert login.status_code == 200
    assert "holdfast_session" in login.headers["set-cookie"].lower()
    assert "httponly" in login.headers["set-cookie"].lower()

    by_cookie = await client.get("/api/me")  # the cookie set by login
    assert by_cookie.status_code == 200 and by_cookie.json()["id"] == user["id"]
    client.cookies.clear()
    by_token = await client.get(
        "/api/me", headers={"Authorization": f"Bearer {login.json()['token']}"}
    )
    assert by_token.json()["timezone"] == "Europe/Paris"


async def test_emails_are_unique_whatever_their_case(client: httpx.AsyncClient) -> None:
    await register(client, email="bob@example.com")
    again = await client.post(
        "/api/auth/register",
        json={
            "email": "BOB@example.com",
            "password": "long enough",
            "name": "Bob",
            "timezone": "UTC",
        },
    )
    assert again.status_code == 409
    assert again.json()["error"] == "email_taken"


async def test_bad_registrations_are_refused_with_a_reason(client: httpx.AsyncClient) -> None:
    base = {"email": "c@example.com", "password": "long enough", "name": "C", "timezone": "UTC"}
    cases = [
        ({"email": "not-an-email"}, "invalid_email"),
        ({"password": "short"}, "weak_password"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"role": "admin"}, "invalid"),  # nobody registers themselves as admin
    ]
    for change, code in cases:
        response = await client.post("/api/auth/register", json={**base, **change})
        assert response.status_code == 422, (change, response.text)
        assert response.json()["error"] == code
        assert response.json()["detail"]
    for password in ("long enough", "short"):  # no refused registration left an account
        login = {"email": base["email"], "password": password}
        assert (await client.post("/api/auth/login", json=login)).status_code == 401


async def test_wrong_password_forged_or_expired_token_are_401(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    dan = await register(client, email="dan@example.com")
    wrong = await client.post(
        "/api/auth/login", json={"email": "dan@example.com", "password": "not it at all"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_credentials"
    forged = await client.get(
        "/api/me", headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.xxxx"}
    )
    assert forged.status_code == 401 and "not valid" in forged.json()["detail"]
    assert (await client.get("/api/me")).json()["error"] == "login_required"
    assert (await client.get("/api/me", headers=dan)).status_code == 200
    clock.advance(days=8)  # past the 7-day session
    expired = await client.get("/api/me", headers=dan)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


async def test_admin_endpoints_refuse_clients(client: httpx.AsyncClient, ctx: Context) -> None:
    me = await register(client, email="eve@example.com")
    for method, path in [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/providers"),
        ("POST", "/api/admin/services"),
    ]:
        response = await client.request(
            method, path, headers=me, json={"name": "x", "timezone": "UTC"}
        )
        assert response.status_code == 403, path
        assert response.json()["error"] == "admin_only"
    admin = await make_admin(client, ctx)
    found = await client.get("/api/admin/users", params={"email": "EVE@example.com"}, headers=admin)
    assert [u["email"] for u in found.json()] == ["eve@example.com"]


async def test_only_one_plain_email_address_is_accepted_and_stored_normalised(
    client: httpx.AsyncClient,
) -> None:
    base = {"password": "long enough", "name": "Kim", "timezone": "UTC"}
    for email in (
        "all-staff,attacker@evil.example",  # a second recipient
        "x<ceo@evil.example>",  # a display name around another address
        "Kim <kim@example.com>",
        "kim@example.com\r\nBcc: all@example.com",  # a header of its own
        '"kim x"@example.com',
        "kim@[192.0.2.1]",
        "kim@localhost",
    ):
        refused = await client.post("/api/auth/register", json={**base, "email": email})
        assert refused.status_code == 422, (email, refused.text)
        assert refused.json()["error"] == "invalid_email" and refused.json()["detail"]
    created = await client.post("/api/auth/register", json={**base, "email": " Kim@EXAMPLE.Com "})
    assert created.status_code == 201 and created.json()["email"] == "Kim@example.com"
    login = {"email": "kim@example.com", "password": "long enough"}
    assert (await client.post("/api/auth/login", json=login)).status_code == 200


async def test_names_with_control_characters_are_refused(client: httpx.AsyncClient) -> None:
    base = {"email": "lee@example.com", "password": "long enough", "timezone": "UTC"}
    for name in (
        "Lee\r\nBcc: all@example.com",
        "Lee\nSmith",
        "Lee\x00",
        "Lee\u2028Smith",
        "Lee\u202eevil",
    ):
        refused = await client.post("/api/auth/register", json={**base, "name": name})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_name", name
    created = await client.post("/api/auth/register", json={**base, "name": "  Lee Smith "})
    assert created.status_code == 201 and created.json()["name"] == "Lee Smith"


async def test_common_passwords_are_refused(client: httpx.AsyncClient) -> None:
    base = {"email": "max.power@example.com", "name": "Max Power", "timezone": "UTC"}
    for password in (
        "password",
        "12345678",
        "Password1",
        "qwertyuiop",
        "max.power@example.com",  # the email itself
        "MAX.POWER",  # its local part
        "max power",  # the name
        "zzzzzzzzzz",
    ):
        refused = await client.post("/api/auth/register", json={**base, "password": password})
        assert refused.status_code == 422, (password, refused.text)
        assert refused.json()["error"] == "weak_password" and refused.json()["detail"]
    created = await client.post("/api/auth/register", json={**base, "password": "tram lilac 42"})
    assert created.status_code == 201


def password_work(metrics: str) -> float:
    """argon2 checks run so far, from /metrics."""
    for line in metrics.splitlines():
        if line.startswith('holdfast_password_work_total{work="check"}'):
            return float(line.split()[-1])
    return 0.0


async def test_a_login_costs_the_same_whether_or_not_the_email_exists(
    client: httpx.AsyncClient,
) -> None:
    """Timing must not tell which emails have accounts: an unknown email runs the same argon2
    check as a wrong password (counted, rather than timed, on a shared machine)."""
    await register(client, email="known@example.com")
    spent = {}
    for email in ("known@example.com", "unknown@example.com"):
        before = password_work((await client.get("/metrics")).text)
        for _ in range(2):
            wrong = {"email": email, "password": "not the password"}
            assert (await client.post("/api/auth/login", json=wrong)).status_code == 401
        spent[email] = password_work((await client.get("/metrics")).text) - before
    assert spent["unknown@example.com"] == spent["known@example.com"] == 2
