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
from collections.abc import Sequence
from typing import Any, get_args

from beanie import PydanticObjectId
from holdfast.accounts.credentials import email_key
from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Provider
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


async def recipient_names(messages: Sequence[Message]) -> dict[str, str]:
    """Whose each message's address or number is, by name, where Holdfast knows them: an
    account's email (a client's, an admin's), a practitioner's email, or the phone of the client
    whose booking the SMS is about. By message id; unknown recipients are left out."""
    keys = {email_key(m.to) for m in messages if m.channel == "email"}
    about = {m.booking_id for m in messages if m.channel == "sms" and m.booking_id}
    booked = Booking.get_pymongo_collection().find(
        {"_id": {"$in": [PydanticObjectId(b) for b in about if PydanticObjectId.is_valid(b)]}},
        projection={"user_id": 1},
    )
    clients = {doc["user_id"] async for doc in booked}
    people = User.get_pymongo_collection().find(
        {"$or": [{"email_key": {"$in": list(keys)}}, {"_id": {"$in": list(clients)}}]},
        projection={"email_key": 1, "name": 1, "phone": 1},
    )
    names: dict[str, str] = {}
    async for person in people:
        names[person["email_key"]] = person["name"]
        if person["_id"] in clients and person.get("phone"):
            names[person["phone"]] = person["name"]
    practitioners = Provider.get_pymongo_collection().find(
        {"email": {"$type": "string"}}, projection={"email": 1, "name": 1}
    )
    async for practitioner in practitioners:
        names.setdefault(email_key(practitioner["email"]), practitioner["name"])
    found = {m.id: names.get(email_key(m.to) if m.channel == "email" else m.to) for m in messages}
    return {message_id: name for message_id, name in found.items() if name}


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
