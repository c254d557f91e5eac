from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, get_args

from holdfast.errors import Invalid
from holdfast.notifications.models import DeliveryStatus
from holdfast.notifications.outbox import NoInvite, get_message, list_messages, message_invite
from holdfast.notifications.schemas import MessageDetailOut, MessageOut
from holdfast.web.auth import AdminUser
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter


class MessageAdminController(Controller):
    """Delivery tracking, and the dev outbox (messages kept when no provider is configured)."""

    path = "/api/admin/messages"
    tags = ["notifications"]

    @get("/", response_headers=PAGE_HEADERS, opt=answers(Invalid))
    async def messages(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        status: Annotated[
            str | None,
            QueryParameter(
                schema_extra={"enum": list(get_args(DeliveryStatus))},
                description="Only messages in this delivery state.",
            ),
        ] = None,
        booking_id: Annotated[
            str | None, QueryParameter(description="Only the messages about this booking.")
        ] = None,
        to: Annotated[
            str | None, QueryParameter(description="Only the messages to this address or number.")
        ] = None,
    ) -> Response[Sequence[MessageOut]]:
        """Every message, the newest first, with its delivery state (tries, last error)."""
        found = await list_messages(page, status=status, booking_id=booking_id, to=to)
        return paged(request, [MessageOut.of(m) for m in found.items], found.next_cursor)

    @get("/{message_id:str}")
    async def message(self, message_id: FromPath[str], admin: AdminUser) -> MessageDetailOut:
        """One message with its full text."""
        return MessageDetailOut.detail(await get_message(message_id))

    @get("/{message_id:str}/invite.ics", media_type="text/calendar", opt=answers(NoInvite))
    async def invite(self, message_id: FromPath[str], admin: AdminUser) -> Response[str]:
        """The calendar invite the message carried (404 `no_invite` when it had none)."""
        return Response(
            await message_invite(message_id),
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="invite.ics"'},
        )
