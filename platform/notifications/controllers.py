from __future__ import annotations

from holdfast.notifications.handlers import list_messages
from holdfast.notifications.schemas import MessageOut
from holdfast.web.auth import AdminUser
from litestar import Controller, get
from litestar.params import FromQuery


class MessageAdminController(Controller):
    """Delivery tracking, and the dev outbox (messages kept when no provider is configured)."""

    path = "/api/admin/messages"
    tags = ["notifications"]

    @get("/")
    async def messages(
        self,
        admin: AdminUser,
        status: FromQuery[str | None] = None,
        booking_id: FromQuery[str | None] = None,
    ) -> list[MessageOut]:
        return [MessageOut.of(m) for m in await list_messages(status=status, booking_id=booking_id)]
