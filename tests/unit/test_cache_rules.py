"""cache_rules.yaml is validated: a bad rule names itself and the field, and nothing starts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from holdfast.cache.rules import RulesError, load_rules, parse_rules
from holdfast.cache.store import ResponseCache
from holdfast.events import Event

from tests.support import HOLDFAST, process_env

GOOD: dict[str, Any] = {
    "name": "availability",
    "pattern": "^/api/availability$",
    "ttl": 60,
    "allow_query_params": ["service_id", "provider_id"],
    "scope": "provider_id",
    "invalidate_on": ["booking-created"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pattern": "/api/availability"}, "'availability', field 'pattern': must be a regular"),
        ({"pattern": "^/api/(unclosed$"}, "'availability', field 'pattern': is not a valid"),
        ({"ttl": -5}, "'availability', field 'ttl': must be a positive"),
        ({"ttl": "soon"}, "'availability', field 'ttl'"),
        (
            {"invalidate_on": ["booking-exploded"]},
            "field 'invalidate_on': unknown event 'booking-exploded'",
        ),
        ({"colour": "red"}, "'availability', field 'colour': is not a known field"),
        ({"per_user": "yes"}, "field 'per_user': must be true or false"),
        ({"scope": "provider"}, "field 'scope'"),
        ({"allow_query_params": "tz"}, "field 'allow_query_params': must be a list"),
    ],
)
def test_bad_rules_name_the_rule_and_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RulesError) as refused:
        parse_rules({"rules": [{**GOOD, **change}]})
    assert message in str(refused.value)


def test_the_shipped_rules_are_valid_and_cover_what_the_issue_names() -> None:
    rules = {r.name: r for r in load_rules(Path(__file__).parents[2] / "cache_rules.yaml")}
    assert {"services", "availability", "my-bookings", "admin-users", "admin-jobs"} <= set(rules)
    assert rules["my-bookings"].per_user and rules["availability"].scope == "provider_id"


def test_invalidation_is_a_few_counter_bumps_scoped_to_the_subject() -> None:
    cache = ResponseCache(None, parse_rules({"rules": [GOOD]}))  # type: ignore[arg-type]
    scoped = cache.counters_for(Event("booking-created", {"provider_id": "p1"}))
    assert [c for _, c in scoped] == [  # one or two counters, whatever is cached
        "hf:gen:availability:provider_id:p1",
        "hf:gen:availability:provider_id:*",
    ]
    assert [c for _, c in cache.counters_for(Event("booking-created"))] == [
        "hf:gen:availability:all"
    ]
    assert cache.counters_for(Event("user-updated", {"user_id": "u"})) == []


def test_check_and_start_refuse_bad_rules(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: oops\n    pattern: ^/x$\n    ttl: 0\n")
    env = process_env(
        mongo_url="mongodb://127.0.0.1:1/x",
        queue_redis_url="redis://127.0.0.1:1/0",
        secret_key="k" * 40,
        cache_rules=str(bad),
    )
    for command in (["check"], ["api", "--port", "1"]):
        done = subprocess.run(
            [*HOLDFAST, *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, command
        assert "cache rule 'oops', field 'ttl': must be a positive" in done.stderr
