"""`holdfast dev`: the whole platform on one machine, with nothing configured.

It starts MongoDB and both Redis servers under ./.holdfast/ (unless URLs are given), seeds the
demo practice on first start, runs the API, and stops everything it started on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from holdfast.embedded import (
    EmbeddedError,
    Server,
    free_port,
    mongo_url,
    port_in_use,
    redis_url,
    start_mongod,
    start_redis,
)
from holdfast.settings import load_settings

# Not .local: that is a special-use domain, which account emails may not use.
ADMIN_EMAIL = "admin@holdfast.example"


def _state(home: Path) -> dict[str, Any]:
    """Ports, secret and admin password chosen on first start and kept, so data survives."""
    path = home / "dev.json"
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    state.setdefault("secret_key", secrets.token_urlsafe(48))
    state.setdefault("admin_password", secrets.token_urlsafe(9))
    for name in ("mongo_port", "queue_port", "cache_port"):
        state.setdefault(name, free_port())
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)
    return state


def _lock(home: Path) -> Any:
    handle = (home / "dev.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise EmbeddedError(
            f"Holdfast dev is already running from {home} ({owner}); "
            "stop it first (Ctrl-C in its terminal)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def _embedded(home: Path, state: dict[str, Any], servers: list[Server]) -> dict[str, str]:
    env: dict[str, str] = {}
    wanted: dict[str, tuple[str, Callable[[int], Server], Callable[[int], str]]] = {
        "HOLDFAST_MONGO_URL": (
            "mongo_port",
            lambda p: start_mongod(home / "mongo", p),
            lambda p: mongo_url(p, "holdfast"),
        ),
        "HOLDFAST_QUEUE_REDIS_URL": (
            "queue_port",
            lambda p: start_redis(home / "queue-redis", p, persist=True),
            redis_url,
        ),
        "HOLDFAST_CACHE_REDIS_URL": (
            "cache_port",
            lambda p: start_redis(home / "cache-redis", p, persist=False),
            redis_url,
        ),
    }
    for variable, (port_key, start, url) in wanted.items():
        if os.environ.get(variable):
            continue
        port = int(state[port_key])
        if port_in_use(port):
            raise EmbeddedError(
                f"Port {port} (for {variable}) is taken by another program; "
                f"free it or set {variable}."
            )
        servers.append(start(port))
        env[variable] = url(port)
    return env


async def _seed(password: str) -> bool:
    from holdfast.context import close_context, open_context
    from holdfast.db import ensure_indexes
    from holdfast.demo import seed_demo

    ctx = await open_context(load_settings())
    try:
        await ensure_indexes(ctx.db)
        return await seed_demo(ctx, admin_email=ADMIN_EMAIL, admin_password=password)
    finally:
        await close_context(ctx)


def _wait_ready(url: str, api: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise EmbeddedError(f"The API exited with code {api.returncode} while starting.")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise EmbeddedError("The API did not become ready within a minute.")


def _child(*args: str) -> subprocess.Popen[bytes]:
    """`holdfast <args>` as a child in its own session, so Ctrl-C reaches only the supervisor,
    which then stops the children in order."""
    # -P keeps the working directory off sys.path: the repository's platform/ folder must never
    # shadow the standard library's `platform` module.
    code = "import sys; from holdfast.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-P", "-c", code, *args], start_new_session=True)


def run_dev(*, host: str, port: int, home: Path | None = None) -> int:
    home = (home or Path.cwd() / ".holdfast").resolve()
    home.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    stop = {"requested": False}

    def request_stop(*_: object) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with ExitStack() as cleanup:
        try:
            lock = _lock(home)
        except EmbeddedError as exc:
            print(exc, file=sys.stderr)
            return 1
        cleanup.callback(lock.close)
        cleanup.callback(_stop_all, servers)
        state = _state(home)
        url = f"http://{host}:{port}"
        try:
            os.environ.update(_embedded(home, state, servers))
            os.environ.setdefault("HOLDFAST_SECRET_KEY", state["secret_key"])
            os.environ.setdefault("HOLDFAST_PUBLIC_URL", url)
            os.environ["HOLDFAST_DEV"] = "true"
            seeded = asyncio.run(_seed(state["admin_password"]))
            children = {
                "api": _child("api", "--host", host, "--port", str(port)),
                "promoter": _child("promoter"),
                "worker": _child("worker"),
            }
            for child in children.values():
                cleanup.callback(_stop_process, child)
            _wait_ready(url, children["api"])
        except EmbeddedError as exc:
            print(f"holdfast dev: {exc}", file=sys.stderr)
            return 1
        print(
            f"\nHoldfast is running at {url}\n"
            f"  {'Seeded the demo practice. ' if seeded else ''}Data lives in {home}\n"
            f"  Admin login: {ADMIN_EMAIL} / {state['admin_password']}  ({url}/admin)\n"
            f"  API docs: {url}/schema/swagger\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while not stop["requested"]:
            for name, child in children.items():
                if child.poll() is not None:
                    print(
                        f"holdfast dev: the {name} exited ({child.returncode}); stopping.",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
        print("Stopping Holdfast…", flush=True)
    return 0


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _stop_all(servers: list[Server]) -> None:
    # Registered before any server starts: the list fills as they do.
    for server in reversed(servers):
        server.stop()
