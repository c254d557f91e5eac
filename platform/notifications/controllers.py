from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from holdfast.notifications.handlers import list_messages
from holdfast.notifications.schemas import MessageOut
from holdfast.web.auth import AdminUser
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery


class MessageAdminController(Controller):
    """Delivery tracking, and the dev outbox (messages kept when no provider is configured)."""

    path = "/api/admin/messages"
    tags = ["notifications"]

    @get("/", response_headers=PAGE_HEADERS)
    async def messages(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        status: FromQuery[str | None] = None,
        booking_id: FromQuery[str | None] = None,
    ) -> Response[Sequence[MessageOut]]:
        found = await list_messages(page, status=status, booking_id=booking_id)
        return paged(request, [MessageOut.of(m) for m in found.items], found.next_cursor)
