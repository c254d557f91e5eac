from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from holdfast.calendly import service
from holdfast.calendly.models import CalendlyDelivery
from holdfast.calendly.signature import SignatureInvalid
from holdfast.errors import Invalid, NotFound
from holdfast.schemas import Input, UtcInstant
from holdfast.web.auth import AdminUser, Ctx, CurrentUser, request_caller
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody
from pydantic import BaseModel, Field


class BookNowIn(Input):
    service_id: str = Field(min_length=1, max_length=64)


class BookNowOut(BaseModel):
    url: str
    expires_at: UtcInstant


class DeliveryOut(BaseModel):
    id: str
    event: str
    invitee_uri: str
    status: str
    reason: str | None
    booking_id: str | None
    received_at: UtcInstant
    invitee_name: str | None = Field(default=None, description="Who booked, as Calendly says.")
    invitee_email: str | None = None
    start: UtcInstant | None = Field(default=None, description="The meeting's start, if given.")

    @classmethod
    def of(cls, delivery: CalendlyDelivery) -> DeliveryOut:
        invitee = delivery.payload.get("payload")
        invitee = invitee if isinstance(invitee, dict) else {}
        return cls(
            **delivery.model_dump(
                include={"id", "event", "invitee_uri", "status", "reason", "received_at"}
            ),
            booking_id=str(delivery.booking_id) if delivery.booking_id else None,
            invitee_name=_text(invitee.get("name")),
            invitee_email=_text(invitee.get("email")),
            start=_start(invitee),
        )


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _start(invitee: dict[str, Any]) -> datetime | None:
    """The meeting's start as the delivery gave it (a delivery may have been refused for a
    malformed one: then none)."""
    try:
        return service.interval_of(invitee)[0]
    except (Invalid, AttributeError, TypeError, ValueError):
        return None


class CalendlyController(Controller):
    path = ""
    tags = ["calendly"]

    @post("/api/book-now", status_code=200, opt=answers(NotFound, service.CalendlyNotConfigured))
    async def book_now(
        self,
        data: JSONBody[BookNowIn],
        ctx: Ctx,
        user: CurrentUser,
        request: Request[Any, Any, Any],
    ) -> BookNowOut:
        session = request_caller(request, ctx).session  # verified by the `user` dependency
        url, expires_at = await service.book_now(ctx, user, data.service_id, session)
        return BookNowOut(url=url, expires_at=expires_at)

    @get("/api/admin/calendly", response_headers=PAGE_HEADERS)
    async def deliveries(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        status: FromQuery[str | None] = None,
    ) -> Response[Sequence[DeliveryOut]]:
        found = await service.list_deliveries(page, status=status)
        return paged(request, [DeliveryOut.of(d) for d in found.items], found.next_cursor)


class CalendlyWebhookController(Controller):
    """Calendly's webhook: verified by its signature, never by a session (served outside the
    app's cross-site, rate-limit and cache layers: see `holdfast.web.app`)."""

    path = ""
    tags = ["calendly"]

    @post("/webhooks/calendly", status_code=200, opt=answers(SignatureInvalid))
    async def webhook(self, ctx: Ctx, request: Request[Any, Any, Any]) -> dict[str, str]:
        """Verified, stored and acknowledged at once; processing is a durable job."""
        body = await request.body()
        header = request.headers.get("calendly-webhook-signature")
        handled = await service.receive(ctx, header, body)
        return {"status": "received" if handled else "ignored"}
