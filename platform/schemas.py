"""Shared pieces of the API's JSON shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from holdfast.clock import iso_z
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

# Every instant leaves the API as ISO 8601 UTC ending in Z.
UtcInstant = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="always")]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise ValueError("is not an instant between the years 1 and 9999 in UTC") from None


# Every IANA zone name this installation knows: what a `timezone` field or parameter accepts,
# documented as a pattern (an enum of 600 names would be tried one by one by API fuzzers).
TIMEZONE_PATTERN = (
    "^(" + "|".join(name.replace("+", r"\+") for name in sorted(available_timezones())) + ")$"
)
TimeZoneName = Annotated[
    str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": TIMEZONE_PATTERN})
]


# An instant a request sends: with its offset, turned into UTC as it is read.
InstantIn = Annotated[AwareDatetime, AfterValidator(_to_utc)]


# What validation strips from strings (pydantic trims Unicode White_Space), spelled out: regex
# engines disagree on `\s` (Python adds \x1c-\x1f, JavaScript leaves out \x85), so patterns
# name the characters themselves.
_BLANKS = r"\u0009-\u000d \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{_BLANKS}]"
EMAIL_PATTERN = f"^[^@{_BLANKS}]+@[^@{_BLANKS}]+\\.[^@{_BLANKS}]+$"


def _say_stripped(schema: dict[str, Any]) -> None:
    """Strings are stripped before their length is checked: say so in the schema, as a
    pattern that needs `minLength` characters between the first and last non-blank one."""
    for field in schema.get("properties", {}).values():
        for branch in (field, *field.get("anyOf", ())):
            least = branch.get("minLength", 0)
            if branch.get("type") != "string" or not least or {"pattern", "enum"} & set(branch):
                continue
            between = "" if least == 1 else f"[\\s\\S]{{{least - 2},}}{NOT_BLANK}"
            branch["pattern"] = NOT_BLANK + between


class Input(BaseModel):
    """Request bodies: unknown fields are refused so a typo never silently does nothing, and
    every value must have the JSON type the schema gives it (see `_json_types`)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_say_stripped
    )

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        """Lax validation would read `true` as 1, `"5"` as 5 and `0` as 1970-01-01: values the
        documented schema refuses are refused, so the document and the API agree. Values
        JSON cannot hold (a date the code passes in) are not JSON's to judge."""
        schema = _field_schemas(cls).get(info.field_name or "")
        if schema is not None and (problem := json_type_problem(schema, value)):
            raise ValueError(problem)
        return value


@cache
def _field_schemas(model: type[BaseModel]) -> dict[str, Any]:
    properties: dict[str, Any] = inline_definitions(model.model_json_schema())["properties"]
    return properties


_FROM_JSON = (str, int, float, bool, list, dict, type(None))
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def json_type_problem(schema: dict[str, Any], value: Any) -> str | None:
    """Why `value`, decoded from JSON, does not have the JSON types `schema` gives it."""
    if "anyOf" in schema:
        problems = [json_type_problem(branch, value) for branch in schema["anyOf"]]
        return None if None in problems else problems[0]
    kind = schema.get("type")
    if kind is None or not isinstance(value, _FROM_JSON):
        return None
    if not _JSON_TYPES[kind](value):
        return f"must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    if isinstance(value, list) and "items" in schema:
        for item in value:
            if problem := json_type_problem(schema["items"], item):
                return f"each item {problem}"
    if isinstance(value, dict):
        for key, field in schema.get("properties", {}).items():
            if key in value and (problem := json_type_problem(field, value[key])):
                return f"{key} {problem}"
    return None


def inline_definitions(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with every `$ref` into its own `$defs` replaced by the definition."""
    definitions = document.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen:
                raise ValueError(f"{name} refers to itself; the API has no recursive models")
            beside = {k: v for k, v in node.items() if k != "$ref"}
            return resolve({**definitions[name], **beside}, (*seen, name))
        return {key: resolve(value, seen) for key, value in node.items() if key != "$defs"}

    resolved: dict[str, Any] = resolve(document, ())
    return resolved


class ErrorOut(BaseModel):
    """Every error response: a stable code, a sentence for a person, and what some add."""

    model_config = ConfigDict(extra="allow")  # a domain error may carry more (see `extra`)

    error: str = Field(description="A stable code, e.g. `slot_taken`.")
    detail: str = Field(description="What went wrong, in a sentence a person can act on.")
    problems: list[dict[str, Any]] | None = Field(
        default=None, description="`invalid`: each field refused, as {message, key, source}."
    )
    alternatives: list[dict[str, Any]] | None = Field(
        default=None,
        description="`slot_taken`: the nearest free slots, as {provider_id, start, end, "
        "start_local}.",
    )
    retry_after: int | None = Field(
        default=None, description="`rate_limited`: seconds to wait, as in Retry-After."
    )
    conflicts: list[dict[str, Any]] | None = Field(
        default=None,
        description="`series_conflicts`: each session that cannot be booked, as {start, "
        "start_local, reason}.",
    )
