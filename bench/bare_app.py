"""The floor bench/webhooks.py compares `POST /webhooks/calendly` with: a bare Litestar app.

`POST /` only returns 200. `GET /health/ready` lets bench/run.py's `wait_ready` see it is up.
"""

from __future__ import annotations

from litestar import Litestar, get, post


@post("/", status_code=200)
async def acknowledge() -> None:
    return None


@get("/health/ready")
async def ready() -> None:
    return None


app = Litestar([acknowledge, ready])
