"""Sessions end when they should: logging out ends that session wherever its token was copied,
changing the password ends every other session, a reset by `create-admin` ends them all, and a
per-user response cached for a session or a role that no longer holds is never served."""

from __future__ import annotations

import httpx
from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.service import create_or_reset_admin
from holdfast.context import Context

from tests.support import make_admin, register

OWN_PAGE = {"origin": "http://testserver"}


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_logout_ends_the_session_even_for_a_copied_token(client: httpx.AsyncClient) -> None:
    await register(client, email="fay@example.com")
    phone = await log_in(client, "fay@example.com", "correct horse")
    laptop = await log_in(client, "fay@example.com", "correct horse")
    copied = dict(phone)  # e.g. lifted from the phone's storage before logging out

    assert (await client.post("/api/auth/logout", headers=phone)).status_code == 200
    for token in (phone, copied):
        refused = await client.get("/api/me", headers=token)
        assert refused.status_code == 401 and refused.json()["error"] == "session_ended"
    assert (await client.get("/api/me", headers=laptop)).status_code == 200  # another session

    # A browser session: the cookie is cleared, and its value, copied, no longer works.
    login = await client.post(
        "/api/auth/login", json={"email": "fay@example.com", "password": "correct horse"}
    )
    cookie = client.cookies["holdfast_session"]
    assert (await client.get("/api/me")).status_code == 200
    out = await client.post("/api/auth/logout", headers=OWN_PAGE)
    assert out.status_code == 200 and "holdfast_session" not in client.cookies
    replayed = await client.get("/api/me", headers={"Authorization": f"Bearer {cookie}"})
    assert replayed.status_code == 401
    assert login.json()["token"] == cookie


async def test_a_cached_list_is_not_served_to_a_session_that_ended(
    client: httpx.AsyncClient,
) -> None:
    me = await register(client, email="gus@example.com")
    assert (await client.get("/api/bookings", headers=me)).headers["x-cache"] == "miss"
    assert (await client.get("/api/bookings", headers=me)).headers["x-cache"] == "hit"
    await client.post("/api/auth/logout", headers=me)
    after = await client.get("/api/bookings", headers=me)
    assert after.status_code == 401, after.text


async def test_a_password_change_ends_every_other_session(client: httpx.AsyncClient) -> None:
    await register(client, email="hal@example.com")
    here = await log_in(client, "hal@example.com", "correct horse")
    elsewhere = await log_in(client, "hal@example.com", "correct horse")
    change = {"current_password": "correct horse", "new_password": "battery staple 9"}

    wrong = await client.post(
        "/api/me/password", json={**change, "current_password": "not my password"}, headers=here
    )
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_password"
    weak = await client.post(
        "/api/me/password", json={**change, "new_password": "password"}, headers=here
    )
    assert weak.status_code == 422 and weak.json()["error"] == "weak_password"
    assert (await client.get("/api/me", headers=elsewhere)).status_code == 200  # nothing changed

    changed = await client.post("/api/me/password", json=change, headers=here)
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['token']}"}
    assert client.cookies["holdfast_session"] == changed.json()["token"]  # a browser goes on too
    client.cookies.clear()
    assert changed.json()["user"]["email"] == "hal@example.com"
    assert (await client.get("/api/me", headers=fresh)).status_code == 200  # this session goes on
    for ended in (elsewhere, here):  # here: its old token was replaced by the fresh one
        assert (await client.get("/api/me", headers=ended)).json()["error"] == "session_ended"
    old = {"email": "hal@example.com", "password": "correct horse"}
    assert (await client.post("/api/auth/login", json=old)).status_code == 401
    new = {"email": "hal@example.com", "password": "battery staple 9"}
    assert (await client.post("/api/auth/login", json=new)).status_code == 200


async def test_an_admin_reset_ends_the_accounts_sessions(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    ivy = await register(client, email="ivy@example.com")
    await create_or_reset_admin(ctx, email="ivy@example.com", password="new admin password")
    assert (await client.get("/api/me", headers=ivy)).json()["error"] == "session_ended"
    admin = await log_in(client, "ivy@example.com", "new admin password")
    assert (await client.get("/api/me", headers=admin)).json()["role"] == "admin"


async def test_a_cached_admin_list_is_not_served_after_a_role_change_or_deletion(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    admin = await make_admin(client, ctx)
    admin_id = (await client.get("/api/me", headers=admin)).json()["id"]
    jo = await register(client, email="jo@example.com")
    jo_id = (await client.get("/api/me", headers=jo)).json()["id"]
    for expected in ("miss", "hit"):
        listed = await client.get("/api/admin/users", headers=admin)
        assert listed.status_code == 200 and listed.headers["x-cache"] == expected
    # An operator demotes the admin in MongoDB directly (no API call, no event published).
    users = User.get_pymongo_collection()
    await users.update_one({"_id": PydanticObjectId(admin_id)}, {"$set": {"role": "client"}})
    demoted = await client.get("/api/admin/users", headers=admin)
    assert demoted.status_code == 403, demoted.text
    # A client's own list, cached, is gone with the account.
    for expected in ("miss", "hit"):
        assert (await client.get("/api/bookings", headers=jo)).headers["x-cache"] == expected
    await users.delete_one({"_id": PydanticObjectId(jo_id)})
    assert (await client.get("/api/bookings", headers=jo)).status_code == 401
