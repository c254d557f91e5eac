"""HTTP helpers for tests: accounts and a small practice, made through the API."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from holdfast.context import Context
from holdfast.embedded import free_port
from holdfast.settings import Settings
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

_counter = itertools.count()


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    name: str = "Client",
    timezone: str = "Europe/London",
    phone: str | None = None,
) -> dict[str, str]:
    """Register and log in; the Authorization header for that user."""
    email = email or f"client{next(_counter)}@example.com"
    response = await client.post(
        "/api/auth/register",
        json={
            "email": email,
            "password": "correct horse",
            "name": name,
            "timezone": timezone,
            "phone": phone,
        },
    )
    assert response.status_code == 201, response.text
    login = await client.post("/api/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    client.cookies.clear()  # tests authenticate with the Bearer token unless they say otherwise
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def make_admin(client: httpx.AsyncClient, ctx: Context) -> dict[str, str]:
    from holdfast.accounts.service import create_or_reset_admin

    await create_or_reset_admin(ctx, email="admin@example.com", password="admin password")
    login = await client.post(
        "/api/auth/login", json={"email": "admin@example.com", "password": "admin password"}
    )
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
        created = await client.post(
            "/api/admin/providers", json={"name": name, "timezone": tz}, headers=admin
        )
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        rules = [{"weekday": d, "start": start, "end": end} for d in range(5)]
        hours = await client.put(
            f"/api/admin/providers/{pid}/availability", json={"rules": rules}, headers=admin
        )
        assert hours.status_code == 200, hours.text
        return str(pid)

    london = await provider("Ada", "Europe/London", "09:00", "17:00")
    new_york = await provider("Sam", "America/New_York", "09:00", "17:00")

    async def service(body: dict[str, Any]) -> str:
        created = await client.post("/api/admin/services", json=body, headers=admin)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    session = await service(
        {
            "name": "Session",
            "duration_minutes": 60,
            "buffer_after_minutes": 15,
            "slot_step_minutes": 60,
            "price": {"amount_cents": 9000, "currency": "GBP"},
            "provider_ids": [london, new_york],
        }
    )
    short = await service(
        {"name": "Short", "duration_minutes": 30, "slot_step_minutes": 30, "provider_ids": [london]}
    )
    return Practice(admin=admin, london=london, new_york=new_york, session=session, short=short)


def with_senders(settings: Settings, smtp_url: str, sms_url: str) -> Settings:
    """Settings that send through these loopback SMTP and SMS servers, with short job tries."""
    return settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "sms_url": sms_url,
            "sms_token": None,
            "job_timeout_seconds": 5,
        }
    )


async def run_all_due(ctx: Context, settings: Settings) -> list[str]:
    """Run every job due at the test clock's now, as a worker would; their outcomes."""
    from holdfast.jobs.models import Job
    from holdfast.jobs.registry import default_registry
    from holdfast.jobs.runner import run_job

    registry = default_registry(settings)
    due = await Job.find(
        {"state": {"$in": ["scheduled", "promoted", "retry_wait"]}, "run_at": {"$lte": ctx.now()}}
    ).to_list()
    return [await run_job(ctx, job.id, registry) for job in due]


# --- Real processes, for the acceptance tests ---------------------------------------------------

HOLDFAST = [
    sys.executable,
    "-P",
    "-c",
    "import sys; from holdfast.cli import main; sys.exit(main())",
]


def process_env(**variables: str) -> dict[str, str]:
    """The test's environment without any HOLDFAST_* it may carry, plus these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDFAST_")}
    env.update({f"HOLDFAST_{k.upper()}": v for k, v in variables.items()})
    return env


def settings_env(settings: Settings) -> dict[str, str]:
    return process_env(
        mongo_url=settings.mongo_url,
        queue_redis_url=settings.queue_redis_url,
        cache_redis_url=settings.cache_redis_url or "",
        secret_key=settings.secret_key.get_secret_value(),
    )


def wait_for(
    url: str,
    *,
    status: int = 200,
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s")


@contextmanager
def api_process(env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """`holdfast api` as a real process; yields its base URL and stops it afterwards."""
    with api_processes(env, 1, port) as [url]:
        yield url


@contextmanager
def api_processes(env: dict[str, str], count: int, port: int | None = None) -> Iterator[list[str]]:
    """`count` separate `holdfast api` processes, started together; their base URLs."""
    ports = [port or free_port()] if count == 1 else [free_port() for _ in range(count)]
    processes = [subprocess.Popen([*HOLDFAST, "api", "--port", str(p)], env=env) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_for(f"{url}/health/live", process=process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def holdfast_process(
    env: dict[str, str], *args: str, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`holdfast <args>` (a promoter, a worker) as a real process, stopped by SIGTERM afterwards;
    its log (stderr) goes to `log` if given."""
    with log.open("ab") if log else nullcontext() as file:
        process = subprocess.Popen([*HOLDFAST, *args], env=env, stderr=file)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
                raise AssertionError(f"holdfast {args[0]} ignored SIGTERM for 15 s") from None


def create_admin(
    env: dict[str, str], email: str = "admin@example.com", password: str = "admin password"
) -> None:
    done = subprocess.run(
        [*HOLDFAST, "create-admin", "--email", email, "--password", password],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def login(url: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{url}/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def register_sync(url: str, email: str, password: str = "correct horse") -> dict[str, str]:
    body = {"email": email, "password": password, "name": "Client", "timezone": "UTC"}
    assert httpx.post(f"{url}/api/auth/register", json=body, timeout=10).status_code == 201
    return login(url, email, password)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.1)


def open_all_hours(
    url: str, first_day: datetime, *, providers: int, days: int, users: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Providers open around the clock and a 30-minute service bookable every 15 minutes, made
    as the admin of a running `holdfast api`: the booking bodies for every start over `days`
    (neighbours overlap, so clients compete) and the tokens of `users` new users."""
    admin = login(url, "admin@example.com", "admin password")
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    provider_ids = []
    for i in range(providers):
        created = httpx.post(
            f"{url}/api/admin/providers", json={"name": f"P{i}", "timezone": "UTC"}, headers=admin
        )
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        hours = httpx.put(
            f"{url}/api/admin/providers/{pid}/availability", json={"rules": rules}, headers=admin
        )
        assert hours.status_code == 200, hours.text
        provider_ids.append(pid)
    body = {
        "name": "Half hour",
        "duration_minutes": 30,
        "slot_step_minutes": 15,
        "provider_ids": provider_ids,
    }
    service = httpx.post(f"{url}/api/admin/services", json=body, headers=admin)
    assert service.status_code == 201, service.text
    targets = [
        {
            "service_id": service.json()["id"],
            "provider_id": provider,
            "start": (first_day + timedelta(minutes=15 * k)).isoformat(),
        }
        for provider in provider_ids
        for k in range(days * 24 * 4)
        if k % (24 * 4) != 24 * 4 - 1  # 23:45 would end after the day's hours
    ]
    tokens = [
        register_sync(url, f"client{i}@example.com")["Authorization"][7:] for i in range(users)
    ]
    return targets, tokens


def http_handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """Every HTTP handler the app serves, with its route's whole path (one per method: a path's
    GET and POST are separate handlers)."""
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler)
    ]
