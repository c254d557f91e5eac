from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from holdfast.inbox import service
from holdfast.inbox.models import Delivery, DeliveryStatus
from holdfast.schemas import UtcInstant
from holdfast.web.auth import AdminUser
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from pydantic import BaseModel


class DeliveryOut(BaseModel):
    id: str
    source: str
    kind: str
    status: DeliveryStatus
    reason: str | None
    result: dict[str, Any]
    received_at: UtcInstant
    processed_at: UtcInstant | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls.model_validate(delivery.model_dump(include=set(cls.model_fields)))


class InboxAdminController(Controller):
    path = "/api/admin/webhooks"
    tags = ["webhooks"]

    @get("/", response_headers=PAGE_HEADERS)
    async def deliveries(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        source: FromQuery[str | None] = None,
        status: FromQuery[DeliveryStatus | None] = None,
    ) -> Response[Sequence[DeliveryOut]]:
        """Verified webhook deliveries (the generic cancellation webhook, Stripe, ...), the
        newest first, with what became of each."""
        found = await service.list_deliveries(page, source=source, status=status)
        return paged(request, [DeliveryOut.of(d) for d in found.items], found.next_cursor)
