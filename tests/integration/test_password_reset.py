"""Password reset through the API, with the email delivered by the worker's job over real SMTP:
202 whatever the address, a link that works once within 30 minutes, every session ended."""

from __future__ import annotations

import re

import httpx
import pytest
from holdfast.context import Context
from holdfast.jobs.models import Job
from holdfast.settings import Settings

from tests.conftest import Clock
from tests.fakes import SmtpSink
from tests.support import register, run_all_due, with_senders

ASK = "/api/auth/password-reset"
CONFIRM = "/api/auth/password-reset/confirm"
NEW = "a brand new secret"


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink) -> Settings:
    return with_senders(settings, smtp.url, "http://127.0.0.1:9/unused")


def link_token(smtp: SmtpSink, to: str) -> str:
    [mail] = [m for m in smtp.messages if m["To"] == to]
    assert mail["Subject"] == "Reset your Holdfast password"
    body = mail.get_content()
    found = re.search(r"https?://\S+/reset-password#token=(\S+)", body)
    assert found, body
    return found.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    client.cookies.clear()
    return response


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    client: httpx.AsyncClient, ctx: Context, settings: Settings, smtp: SmtpSink
) -> None:
    phone = await register(client, email="rae@example.com")
    laptop = await register(client, email="rae+laptop@example.com")  # someone else: untouched

    asked = await client.post(ASK, json={"email": "Rae@Example.com"})
    assert asked.status_code == 202, asked.text
    assert await run_all_due(ctx, settings) == ["succeeded"]
    token = link_token(smtp, "rae@example.com")

    weak = await client.post(CONFIRM, json={"token": token, "password": "password"})
    assert weak.status_code == 422 and weak.json()["error"] == "weak_password"
    done = await client.post(CONFIRM, json={"token": token, "password": NEW})
    assert done.status_code == 200, done.text

    ended = await client.get("/api/me", headers=phone)
    assert ended.status_code == 401 and ended.json()["error"] == "session_ended"
    assert (await client.get("/api/me", headers=laptop)).status_code == 200
    assert (await log_in(client, "rae@example.com", "correct horse")).status_code == 401
    assert (await log_in(client, "rae@example.com", NEW)).status_code == 200

    again = await client.post(CONFIRM, json={"token": token, "password": "yet another secret"})
    assert again.status_code == 410 and again.json()["error"] == "reset_link_gone"
    assert (await log_in(client, "rae@example.com", NEW)).status_code == 200


async def test_an_unknown_address_gets_the_same_answer_and_no_email(
    client: httpx.AsyncClient, ctx: Context, settings: Settings, smtp: SmtpSink
) -> None:
    await register(client, email="sid@example.com")
    known = await client.post(ASK, json={"email": "sid@example.com"})
    unknown = await client.post(ASK, json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    # The same work for both: one durable job each, decided by the worker.
    assert await Job.find({"kind": "accounts.password_reset"}).count() == 2
    assert await run_all_due(ctx, settings) == ["succeeded", "succeeded"]
    assert [m["To"] for m in smtp.messages] == ["sid@example.com"]
    # Asking again within the minute mails nothing more.
    assert (await client.post(ASK, json={"email": "sid@example.com"})).status_code == 202
    assert await run_all_due(ctx, settings) == []
    assert len(smtp.messages) == 1


async def test_a_link_expires_after_30_minutes_and_a_forged_one_is_refused(
    client: httpx.AsyncClient, ctx: Context, settings: Settings, smtp: SmtpSink, clock: Clock
) -> None:
    await register(client, email="tam@example.com")
    assert (await client.post(ASK, json={"email": "tam@example.com"})).status_code == 202
    await run_all_due(ctx, settings)
    token = link_token(smtp, "tam@example.com")

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    bad = await client.post(CONFIRM, json={"token": forged, "password": NEW})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_reset_link"

    clock.advance(minutes=31)
    late = await client.post(CONFIRM, json={"token": token, "password": NEW})
    assert late.status_code == 410 and late.json()["error"] == "reset_link_gone"
    assert (await log_in(client, "tam@example.com", "correct horse")).status_code == 200


async def test_a_newer_password_ends_older_links(
    client: httpx.AsyncClient, ctx: Context, settings: Settings, smtp: SmtpSink, clock: Clock
) -> None:
    me = await register(client, email="uma@example.com")
    assert (await client.post(ASK, json={"email": "uma@example.com"})).status_code == 202
    await run_all_due(ctx, settings)
    token = link_token(smtp, "uma@example.com")
    changed = await client.post(
        "/api/me/password",
        json={"current_password": "correct horse", "new_password": NEW},
        headers=me,
    )
    assert changed.status_code == 200, changed.text
    client.cookies.clear()  # the change's new session cookie: this test speaks with tokens
    stale = await client.post(CONFIRM, json={"token": token, "password": "yet another secret"})
    assert stale.status_code == 410
