"""The OpenAPI document tells the truth: Schemathesis, every check on, against the real API.

The real `holdfast api` process serves real MongoDB and Redis; the fuzzer is logged in as the
admin with a small practice present (providers, services, a booking), so it reaches past the
401s into every handler. Any response the document does not describe fails the run.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from holdfast.settings import Settings

from tests.support import api_process, create_admin, login, settings_env

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20270301
MAX_EXAMPLES = 8


def _seed_practice(url: str, admin: dict[str, str]) -> None:
    """Two providers open every day, two services, and one booking to find."""
    providers = []
    for name, tz in (("Ada", "Europe/London"), ("Sam", "America/New_York")):
        created = httpx.post(
            f"{url}/api/admin/providers", json={"name": name, "timezone": tz}, headers=admin
        )
        assert created.status_code == 201, created.text
        providers.append(created.json()["id"])
        rules = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(7)]
        hours = httpx.put(
            f"{url}/api/admin/providers/{providers[-1]}/availability",
            json={"rules": rules},
            headers=admin,
        )
        assert hours.status_code == 200, hours.text
    services = []
    for body in (
        {"name": "Session", "duration_minutes": 60, "provider_ids": providers},
        {"name": "Short", "duration_minutes": 30, "provider_ids": providers[:1]},
    ):
        created = httpx.post(f"{url}/api/admin/services", json=body, headers=admin)
        assert created.status_code == 201, created.text
        services.append(created.json()["id"])
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    query = {"service_id": services[0], "from": day, "days": 1}
    slot = httpx.get(f"{url}/api/availability", params=query).json()["slots"][0]
    booked = httpx.post(
        f"{url}/api/bookings",
        json={
            "service_id": services[0],
            "provider_id": slot["provider_id"],
            "start": slot["start"],
        },
        headers=admin,
    )
    assert booked.status_code == 201, booked.text


def _paged_operations(url: str) -> str:
    """Every list that pages with a `cursor` (found in the document itself, so a list added
    later is covered without editing anything): a cursor is opaque and signed, so one made up
    by the fuzzer is refused with 422 `invalid_cursor`, which no schema can foresee."""
    document = httpx.get(f"{url}/schema/openapi.json").json()
    paged = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    ]
    assert paged, "no paged list found: has the cursor parameter been renamed?"
    names = ", ".join(f'"{name}"' for name in paged)
    return (
        f"\n[[operations]]\ninclude-name = [{names}]\n"
        "checks.positive_data_acceptance.expected-statuses = "
        '["2xx", "3xx", "401", "403", "404", "409", "422", "429"]\n'
    )


@pytest.mark.timeout(400)  # about a minute alone; a loaded machine may take several
def test_schemathesis_finds_nothing(settings: Settings, tmp_path: Path) -> None:
    env = {
        **settings_env(settings),
        # The fuzzer sends thousands of requests as one client; the limits have their own tests.
        "HOLDFAST_RATE_LIMIT_REQUESTS": "1000000",
        "HOLDFAST_LOGIN_FAILURES_ALLOWED": "1000000",
        "HOLDFAST_REGISTRATIONS_PER_HOUR": "1000000",
        # Calendly on, so Book now and the webhook reach their real work (nothing is called:
        # no worker runs, and the API address is a closed loopback port).
        "HOLDFAST_CALENDLY_SIGNING_KEY": "calendly-signing-key",
        "HOLDFAST_CALENDLY_SCHEDULING_URL": "https://calendly.com/holdfast/session",
        "HOLDFAST_CALENDLY_API_URL": "http://127.0.0.1:9",
        # Google Calendar on, so connecting and its callback reach their real work (no calendar
        # gets connected: a forged state is refused before Google would be asked).
        "HOLDFAST_GOOGLE_CLIENT_ID": "holdfast.apps.googleusercontent.com",
        "HOLDFAST_GOOGLE_CLIENT_SECRET": "google-client-secret",
        "HOLDFAST_GOOGLE_API_URL": "http://127.0.0.1:9",
        "HOLDFAST_GOOGLE_OAUTH_URL": "http://127.0.0.1:9",
    }
    create_admin(env)
    with api_process(env) as url:
        admin = login(url, "admin@example.com", "admin password")
        _seed_practice(url, admin)
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG.read_text() + _paged_operations(url))
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                f"--config-file={config}",
                "run",
                f"{url}/schema/openapi.json",
                "--checks=all",
                f"--seed={SEED}",
                f"--max-examples={MAX_EXAMPLES}",
                "--workers=1",
                "--no-color",
                f"--header=Authorization: {admin['Authorization']}",
                # Logging out would revoke the very session the fuzzer runs as.
                "--exclude-path=/api/auth/logout",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert run.returncode == 0, run.stdout + run.stderr
