"""The messages as the practice reads them (`/api/admin/messages`): what was sent to whom,
how its delivery went, its text and its calendar invite.

A message's `_id` is its dedupe key ("<job>/<channel>/<recipient>", see `compose.message_id`)
and holds slashes, so the API names a message by that key in URL-safe base64: one opaque
segment of a path.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, get_args

from holdfast.errors import Invalid, NotFound
from holdfast.notifications.models import DeliveryStatus, Message
from holdfast.paging import Page, PageRequest, Segment, read_page


def public_id(message: Message) -> str:
    return base64.urlsafe_b64encode(message.id.encode()).rstrip(b"=").decode()


def _stored_id(public: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(public + "=" * (-len(public) % 4))
        return raw.decode()
    except (binascii.Error, ValueError):
        return None


async def list_messages(
    page: PageRequest,
    *,
    status: str | None = None,
    booking_id: str | None = None,
    to: str | None = None,
) -> Page[Message]:
    """Messages, the newest first: of one delivery status, one booking, one recipient."""
    where: dict[str, Any] = {}
    if status:
        if status not in get_args(DeliveryStatus):
            raise Invalid(
                f"'{status}' is not a delivery status ({', '.join(get_args(DeliveryStatus))}).",
                code="invalid_status",
            )
        where["status"] = status
    if booking_id:
        where["booking_id"] = booking_id
    if to:
        # An address however it was typed (stored as the person typed it): the whole match
        # walks the `to` index's keys, never the messages themselves.
        where["to"] = {"$regex": f"^{re.escape(to.strip())}$", "$options": "i"}
    segment = Segment(where, (("created_at", -1), ("_id", 1)))
    listing = f"messages:{(status, booking_id, to)!r}"
    return await read_page(Message, [segment], page, listing=listing)


async def get_message(public: str) -> Message:
    stored = _stored_id(public)
    message = await Message.get(stored) if stored else None
    if message is None:
        raise NotFound(f"There is no message with id {public}.", code="message_not_found")
    return message


class NoInvite(NotFound):
    code = "no_invite"


async def message_invite(public: str) -> str:
    """The calendar invite (iCalendar text) the message carried."""
    message = await get_message(public)
    if message.ics is None:
        raise NoInvite("This message carried no calendar invite.")
    return message.ics
