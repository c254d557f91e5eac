"""A missing or invalid setting stops the process with one sentence naming the variable."""

from __future__ import annotations

import subprocess

import pytest
from holdfast.settings import SettingsError, load_settings

from tests.support import HOLDFAST, process_env

GOOD = {
    "HOLDFAST_MONGO_URL": "mongodb://127.0.0.1:1/holdfast",
    "HOLDFAST_QUEUE_REDIS_URL": "redis://127.0.0.1:1/0",
    "HOLDFAST_SECRET_KEY": "k" * 40,
}


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"HOLDFAST_MONGO_URL": None}, "HOLDFAST_MONGO_URL is required but not set"),
        ({"HOLDFAST_SECRET_KEY": "short"}, "HOLDFAST_SECRET_KEY must be at least 32 characters"),
        (
            {"HOLDFAST_MONGO_URL": "mongodb://127.0.0.1:1"},
            "HOLDFAST_MONGO_URL must name the database",
        ),
        ({"HOLDFAST_MONGO_URL": "http://nope"}, "HOLDFAST_MONGO_URL is not a MongoDB URL"),
        ({"HOLDFAST_MONGO_TIMEOUT_MS": "soon"}, "HOLDFAST_MONGO_TIMEOUT_MS"),
        (
            {"HOLDFAST_TRUSTED_PROXIES": "10.0.0.1, proxy.local"},
            "HOLDFAST_TRUSTED_PROXIES 'proxy.local' is not an IP address or network",
        ),
        ({"HOLDFAST_METRICS_ALLOW": "10.0.0.0/33"}, "HOLDFAST_METRICS_ALLOW '10.0.0.0/33'"),
        ({"HOLDFAST_METRICS_TOKEN": "short"}, "HOLDFAST_METRICS_TOKEN must be at least 16"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str | None], sentence: str
) -> None:
    for name, value in {**GOOD, **change}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as stopped:
        load_settings()
    assert sentence in str(stopped.value)
    assert str(stopped.value).count("\n") == 0


def test_the_cli_says_one_sentence_and_exits_nonzero() -> None:
    env = process_env(mongo_url="mongodb://127.0.0.1:1/x", secret_key="k" * 40)
    done = subprocess.run([*HOLDFAST, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "Holdfast cannot start: HOLDFAST_QUEUE_REDIS_URL is required but not set."
    )
    ok = subprocess.run(
        [*HOLDFAST, "check"],
        env={**env, "HOLDFAST_QUEUE_REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "Configuration OK" in ok.stdout


def test_address_lists_are_read_as_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOLDFAST_TRUSTED_PROXIES", " 10.0.0.7/8 ,::1,")
    monkeypatch.setenv("HOLDFAST_METRICS_ALLOW", "")
    monkeypatch.setenv("HOLDFAST_METRICS_TOKEN", "")  # as compose passes an unset variable
    settings = load_settings()
    assert settings.metrics_token is None
    assert settings.trusted_proxies == "10.0.0.0/8,::1/128"  # as uvicorn expects them
    assert settings.metrics_allow == ""  # nobody by address: the token only
