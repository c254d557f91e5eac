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
