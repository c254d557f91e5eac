"""`cache_rules.yaml`: per endpoint pattern a TTL, per-user caching, the query parameters that
make up the key, an optional scope, and the domain events that invalidate it.

Query parameters not listed in `allow_query_params` make the request bypass the cache: an
unknown parameter may change the response, so it is never served from (or stored under) a key
that ignores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from holdfast.events import EVENT_NAMES

KNOWN_FIELDS = {
    "name",
    "pattern",
    "ttl",
    "per_user",
    "allow_query_params",
    "scope",
    "invalidate_on",
}


class RulesError(ValueError):
    """A rule that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True, slots=True)
class CacheRule:
    name: str
    pattern: re.Pattern[str]
    ttl: int
    per_user: bool
    allow_query_params: frozenset[str]
    # Events naming this subject (e.g. provider_id) invalidate only the entries for that value,
    # plus the entries that cover every value (requests without the parameter).
    scope: str | None
    invalidate_on: frozenset[str]

    def matches(self, path: str) -> bool:
        return self.pattern.fullmatch(path) is not None


def _fail(rule: str, field: str, problem: str) -> RulesError:
    return RulesError(f"cache rule '{rule}', field '{field}': {problem}")


def _pattern(name: str, raw: Any) -> re.Pattern[str]:
    if not isinstance(raw, str) or not raw.startswith("^") or not raw.endswith("$"):
        raise _fail(name, "pattern", "must be a regular expression anchored with ^ and $")
    try:
        return re.compile(raw)
    except re.error as exc:
        raise _fail(name, "pattern", f"is not a valid regular expression ({exc})") from None


def _names(name: str, field: str, raw: Any) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _fail(name, field, "must be a list of names")
    return frozenset(raw)


def parse_rule(raw: Any, index: int) -> CacheRule:
    if not isinstance(raw, dict):
        raise RulesError(f"cache rule #{index + 1} must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"#{index + 1}", "name", "is required")
    if unknown := set(raw) - KNOWN_FIELDS:
        raise _fail(
            name, sorted(unknown)[0], f"is not a known field ({', '.join(sorted(KNOWN_FIELDS))})"
        )
    ttl = raw.get("ttl")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise _fail(name, "ttl", "must be a positive number of seconds")
    per_user = raw.get("per_user", False)
    if not isinstance(per_user, bool):
        raise _fail(name, "per_user", "must be true or false")
    events = _names(name, "invalidate_on", raw.get("invalidate_on", []))
    if unknown_events := events - EVENT_NAMES:
        raise _fail(name, "invalidate_on", f"unknown event '{sorted(unknown_events)[0]}'")
    scope = raw.get("scope")
    if scope is not None and not (isinstance(scope, str) and scope.endswith("_id")):
        raise _fail(name, "scope", "must be a subject name such as provider_id or user_id")
    return CacheRule(
        name=name,
        pattern=_pattern(name, raw.get("pattern")),
        ttl=ttl,
        per_user=per_user,
        allow_query_params=_names(name, "allow_query_params", raw.get("allow_query_params", [])),
        scope=scope,
        invalidate_on=events,
    )


def parse_rules(document: Any) -> tuple[CacheRule, ...]:
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RulesError("cache rules: the file must hold a mapping with a 'rules' list")
    rules = tuple(parse_rule(raw, i) for i, raw in enumerate(document["rules"]))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise _fail(rule.name, "name", "is used by two rules")
        seen.add(rule.name)
    return rules


def load_rules(path: Path) -> tuple[CacheRule, ...]:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"cache rules: cannot read {path} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"cache rules: {path} is not valid YAML ({exc})") from None
    return parse_rules(document)


def rule_for(rules: tuple[CacheRule, ...], path: str) -> CacheRule | None:
    return next((rule for rule in rules if rule.matches(path)), None)
