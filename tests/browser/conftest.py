"""Pages in a real browser: Playwright for Python driving Debian's `chromium`.

Playwright cannot download its own browsers here, so it launches the system's Chromium. Where
there is none, browser tests skip with the reason; under CI (`CI=true`) a missing browser is a
failure, never a silent skip. `./run.sh test` installs `chromium` with apt when it runs as root.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from holdfast.settings import Settings
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from pymongo import MongoClient

from tests.conftest import Services, fresh_settings
from tests.support import api_process, create_admin, login, settings_env

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine's network is closed: without these Chromium keeps dialling Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = "no Chromium on this machine (apt install chromium); browser tests need it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


def watch(page: Page, problems: list[str] | None = None) -> list[str]:
    """The page's problems as they happen: script errors and refused resources (a
    Content-Security-Policy violation lands here); an HTTP error answer the page handles itself
    (401 before logging in) is not one. Pass `problems` to gather a second page's in the same."""
    found: list[str] = [] if problems is None else problems

    def collect(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            found.append(message.text)

    page.on("console", collect)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


@dataclass
class Site:
    url: str
    admin: dict[str, str]


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    """The real `holdfast api` process on a free port, with an admin."""
    env = settings_env(settings)
    create_admin(env)
    with api_process(env) as url:
        env_url = url
        yield Site(url=env_url, admin=login(url, "admin@example.com", "admin password"))


@pytest.fixture(scope="module")
def shared_site(services: Services) -> Iterator[Site]:
    """One `holdfast api` process and database for a whole module (its tests seed what they
    need, apart from each other's): starting an app per test is what makes browser tests slow."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    # A module's tests together make more requests a minute as one admin than a person would.
    env = {**settings_env(fresh_settings(services, name)), "HOLDFAST_RATE_LIMIT_REQUESTS": "5000"}
    create_admin(env)
    try:
        with api_process(env) as url:
            yield Site(url=url, admin=login(url, "admin@example.com", "admin password"))
    finally:
        with MongoClient(services.mongo_url(name), serverSelectionTimeoutMS=2000) as client:
            client.drop_database(name)


def open_practice(
    site: Site, name: str = "Open all week", practitioner: str = "Ada Lovelace", **service: Any
) -> tuple[str, str]:
    """A provider open around the clock every day and a 30-minute service (with any other
    service fields given): (provider, service)."""
    provider = httpx.post(
        f"{site.url}/api/admin/providers",
        json={"name": practitioner, "timezone": "Europe/London"},
        headers=site.admin,
    ).json()["id"]
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    hours = httpx.put(
        f"{site.url}/api/admin/providers/{provider}/availability",
        json={"rules": rules},
        headers=site.admin,
    )
    assert hours.status_code == 200, hours.text
    made = httpx.post(
        f"{site.url}/api/admin/services",
        json={
            "name": name,
            "description": "Half an hour",
            "duration_minutes": 30,
            "slot_step_minutes": 30,
            "min_notice_minutes": 60,
            "provider_ids": [provider],
            **service,
        },
        headers=site.admin,
    )
    assert made.status_code == 201, made.text
    return str(provider), str(made.json()["id"])
