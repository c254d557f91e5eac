"""The OpenAPI document tells the truth, by construction.

Litestar plugins make every operation, including ones added later, describe what the API
really does without anyone listing paths:

- `PydanticSchemas`: a request or response model is documented by pydantic's own JSON schema,
  the one its validation follows (patterns, bounds, `additionalProperties: false` of `Input`),
  instead of Litestar's approximation of it.
- `ErrorResponses`: each operation documents the error statuses its handler can answer, read
  from what the handler is made of (a login dependency: 401; an admin one: 403; a path
  parameter: 404; a JSON body: 400, 413, 415, 422; behind the rate limit: 429; MongoDB: 503)
  plus the domain errors it declares with `opt=answers(SlotTaken, ...)`, all with one body,
  `ErrorOut`. Litestar's own error body (`status_code`, `detail`, `extra`) is never sent by
  this API, so it is left out.
- `TruthfulAllow`: OPTIONS lists every method of its path in `Allow`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from holdfast.errors import DomainError
from holdfast.schemas import ErrorOut, Input, inline_definitions
from holdfast.web.auth import provide_admin, provide_user
from holdfast.web.bodies import takes_json_body
from holdfast.web.errors import STATUS
from holdfast.web.paging import provide_page
from holdfast.web.ratelimit import limits_route
from litestar import Response
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, OpenAPIType, Operation, Reference, Schema
from litestar.openapi.spec.header import OpenAPIHeader
from litestar.plugins import OpenAPISchemaPlugin, ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.typing import FieldDefinition
from pydantic import BaseModel

# What each kind of refusal means, as the document says it.
_MEANING = {
    400: "The body is not JSON (`malformed_json`) or nests too deeply (`body_too_deep`).",
    401: "No valid login: no token, or an expired or revoked one.",
    403: "Logged in, but not allowed to do this.",
    404: "What the path names does not exist (or is not yours to see).",
    409: "In conflict with the current state.",
    410: "No longer available.",
    413: "The body is larger than the server accepts (`body_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "The request is not valid: `invalid` with its `problems`, or a rule's own code.",
    429: "Too many requests (`rate_limited`): wait as long as `Retry-After` says.",
    503: "The database is unavailable (`database_unavailable`): try again shortly.",
}
# The statuses a dependency adds to every handler that uses it (directly or through another).
_DEPENDENCY_STATUSES: dict[Callable[..., Any], tuple[int, ...]] = {
    provide_user: (401,),
    provide_admin: (403,),
    provide_page: (422,),  # `limit` and `cursor` are validated
}
_BODIES = {"POST", "PUT", "PATCH", "DELETE"}


def answers(*errors: type[DomainError]) -> dict[str, Any]:
    """A handler's `opt`: the domain errors it may answer besides those its form implies."""
    return {"errors": errors}


def no_database() -> dict[str, Any]:
    """A handler's `opt`: it never touches MongoDB, so it never answers 503."""
    return {"database": False}


def _used_dependencies(handler: HTTPRouteHandler) -> set[Callable[..., Any]]:
    provided = handler.resolve_dependencies()
    found: set[Callable[..., Any]] = set()
    wanted = list(handler.parsed_fn_signature.parameters)
    while wanted:
        name = wanted.pop()
        if name in provided and provided[name].dependency not in found:
            dependency = provided[name].dependency
            found.add(dependency)
            wanted += inspect.signature(dependency).parameters
    return found


def _takes_parameters(handler: HTTPRouteHandler) -> bool:
    """Query, path, header or cookie parameters: Litestar validates them (our 422)."""
    provided = handler.resolve_dependencies()
    return any(
        name not in RESERVED_KWARGS and name not in provided and name != "self"
        for name in handler.parsed_fn_signature.parameters
    )


def error_statuses(handler: HTTPRouteHandler, route: HTTPRoute) -> dict[int, list[str]]:
    """Every error status the handler can answer, with the codes it declares for each."""
    statuses: dict[int, list[str]] = {}
    implied: list[int] = []
    if takes_json_body(handler):
        implied += [400, 413, 415, 422]
    elif "request" in handler.parsed_fn_signature.parameters and handler.http_methods & _BODIES:
        implied.append(413)  # it may read the raw body, which is refused past the size limit
    if _takes_parameters(handler) or route.path_parameters:
        implied.append(422)
    if route.path_parameters:
        implied.append(404)
    for dependency in _used_dependencies(handler):
        implied += _DEPENDENCY_STATUSES.get(dependency, ())
    if limits_route(handler, route.path):
        implied.append(429)
    if handler.opt.get("database", True):
        implied.append(503)
    for status in implied:
        statuses.setdefault(status, [])
    for error in handler.opt.get("errors", ()):
        statuses.setdefault(STATUS[error.kind], []).append(error.code)
    return statuses


def _description(status: int, codes: Iterable[str]) -> str:
    named = ", ".join(f"`{code}`" for code in sorted(set(codes)))
    meaning = _MEANING.get(status, "Refused.")
    return f"{meaning} Codes: {named}." if named else meaning


class ErrorResponses(ReceiveRoutePlugin):
    """Attaches the error statuses each route handler can answer as it is registered."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            declared = dict(handler.responses or {})
            for status, codes in error_statuses(handler, route).items():
                declared.setdefault(
                    status,
                    ResponseSpec(
                        data_container=ErrorOut,
                        description=_description(status, codes),
                        generate_examples=False,
                    ),
                )
            handler.responses = declared
            data = handler.parsed_fn_signature.parameters.get("data")
            optional = data is not None and (data.is_optional or data.has_default)
            handler.operation_class = OptionalBodyOperation if optional else TruthfulOperation


class TruthfulAllow(ReceiveRoutePlugin):
    """OPTIONS answers `Allow` with every method of its path. Litestar builds the OPTIONS
    handler with the path's first route and keeps it when a later handler joins the path (GET
    and POST /api/bookings), so its `Allow` would leave the later methods out."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            return
        options, _ = route.route_handler_map["OPTIONS"]
        allow = ", ".join(sorted(route.methods))

        async def say_every_method(response: Response[Any]) -> Response[Any]:
            response.headers["Allow"] = allow
            return response

        options.after_request = say_every_method


@dataclass
class TruthfulOperation(Operation):
    """Litestar documents a 400 with its own error body (`status_code`, `detail`, `extra`) on
    every operation with parameters; this API never sends that body, so it is dropped."""

    body_required: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.request_body is not None and not isinstance(self.request_body, Reference):
            self.request_body.required = self.body_required  # Litestar says True for all
        responses = self.responses or {}
        for status in [s for s, r in responses.items() if _is_litestar_error(r)]:
            del responses[status]
        if isinstance(limited := responses.get("429"), OpenAPIResponse):
            limited.headers = {
                "Retry-After": OpenAPIHeader(
                    schema=Schema(type=OpenAPIType.INTEGER),
                    description="Seconds to wait before trying again.",
                    required=True,
                )
            }


class OptionalBodyOperation(TruthfulOperation):
    """A body that may be left out altogether (`data: X | None = None`)."""

    body_required = False


def _is_litestar_error(response: Any) -> bool:
    content = getattr(response, "content", None) or {}
    return any(
        isinstance(media.schema, Schema) and "status_code" in (media.schema.required or ())
        for media in content.values()
    )


class PydanticSchemas(OpenAPISchemaPlugin):
    """A pydantic model's OpenAPI schema is pydantic's own JSON schema of it: what a request
    must look like for validation to accept it (`Input` models) or what a response holds."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return isinstance(value, type) and issubclass(value, BaseModel)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        model: type[BaseModel] = field_definition.annotation
        schema: Schema = schema_creator.schema_registry.get_schema_for_field_definition(
            field_definition
        )
        document = model.model_json_schema(
            mode="validation" if issubclass(model, Input) else "serialization"
        )
        for key, value in inline_definitions(document).items():
            attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()  # additionalProperties
            if attribute not in _SCHEMA_FIELDS:
                raise ValueError(f"{model.__name__}: no OpenAPI schema field for '{key}'")
            setattr(schema, attribute, value)
        return schema


_SCHEMA_FIELDS = {f.name for f in fields(Schema)}
