"""The OpenAPI document is truthful by construction: what a handler is made of decides which
errors it documents, so an endpoint added later needs no list of paths kept up to date."""

from __future__ import annotations

from typing import Any

from holdfast.bookings.schemas import BookingIn, BookingOut
from holdfast.bookings.service import SlotTaken
from holdfast.calendly.signature import SignatureInvalid
from holdfast.settings import Settings
from holdfast.web.app import create_app
from holdfast.web.auth import AdminUser, CurrentUser
from holdfast.web.openapi import answers, no_database
from holdfast.web.ratelimit import RateLimitMiddleware
from litestar import Litestar, Request, Router, get, post
from litestar.params import FromPath, JSONBody

ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}


def _app() -> Litestar:
    # Building the app connects to nothing; only its lifespan would.
    settings = Settings(
        mongo_url="mongodb://127.0.0.1:9/unused",
        queue_redis_url="redis://127.0.0.1:9",
        secret_key="a-secret-key-that-is-long-enough-for-settings",  # type: ignore[arg-type]
    )
    return create_app(settings)


def _errors(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def test_an_endpoint_added_later_documents_the_errors_its_parts_imply() -> None:
    @post("/api/things/{thing_id:str}", status_code=201, opt=answers(SlotTaken))
    async def book_thing(
        thing_id: FromPath[str], data: JSONBody[BookingIn], user: CurrentUser
    ) -> BookingOut:
        raise NotImplementedError

    @get("/api/admin/things", opt=no_database())
    async def list_things(admin: AdminUser) -> list[BookingOut]:
        raise NotImplementedError

    @post("/webhooks/things", status_code=200, opt=answers(SignatureInvalid))
    async def thing_webhook(request: Request[Any, Any, Any]) -> None:
        raise NotImplementedError

    app = _app()
    # Added as `holdfast.web.app` adds them: what people call behind the rate limit's layer, a
    # sender's webhook beside it.
    app.register(
        Router("/", route_handlers=[book_thing, list_things], middleware=[RateLimitMiddleware()])
    )
    app.register(thing_webhook)
    document = app.openapi_schema.to_schema()

    booking = document["paths"]["/api/things/{thing_id}"]["post"]
    # body: 400 413 415 422; login: 401; path: 404; declared: 409; limits: 429; MongoDB: 503
    assert _errors(booking) == {400, 401, 404, 409, 413, 415, 422, 429, 503}
    assert "`slot_taken`" in booking["responses"]["409"]["description"]
    assert booking["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    listing = document["paths"]["/api/admin/things"]["get"]
    assert _errors(listing) == {401, 403, 429}  # admin implies login; no database declared
    # Outside the layer nothing is counted, so no 429; only a forged signature is refused.
    hook = document["paths"]["/webhooks/things"]["post"]
    assert _errors(hook) == {403, 413, 503}
    assert 429 not in _errors(document["paths"]["/webhooks/stripe"]["post"])
    assert 429 in _errors(document["paths"]["/api/bookings"]["post"])


def test_every_error_is_documented_with_the_one_body_the_api_sends() -> None:
    document = _app().openapi_schema.to_schema()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or (path, status) == ("/health/ready", "503"):
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR_OUT, (method, path, status)
    error_out = document["components"]["schemas"]["ErrorOut"]
    assert error_out["required"] == ["error", "detail"]
    assert "status_code" not in str(document)  # Litestar's own error body is never sent


def test_request_bodies_say_what_validation_refuses() -> None:
    schemas = _app().openapi_schema.to_schema()["components"]["schemas"]
    booking = schemas["BookingIn"]
    assert booking["additionalProperties"] is False
    assert booking["properties"]["start"]["format"] == "date-time"
    service = schemas["ServiceIn"]["properties"]
    assert service["duration_minutes"]["multipleOf"] == 5
    # Strings are stripped before their length counts: "  " is no name.
    assert "pattern" in schemas["ProviderIn"]["properties"]["name"]
