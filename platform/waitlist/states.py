"""An offer's states and the one table of moves between them.

Every move is one conditional update (`{_id, state: <a state it may move from>}`), so of two
writers moving the same offer (a claim and its expiry, two clicks) exactly one succeeds and the
other learns that someone moved first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from holdfast.db import Session


class OfferState(StrEnum):
    SENT = "sent"  # made and on its way to the person (SMS, email)
    VIEWED = "viewed"  # the person opened the link
    ACCEPTED = "accepted"  # claimed: the booking exists
    DECLINED = "declined"  # the person said no
    EXPIRED = "expired"  # nobody answered in time
    SUPERSEDED = "superseded"  # someone else claimed the slot first, or it ended otherwise


# to → the states it may be reached from.
MOVES: dict[OfferState, frozenset[OfferState]] = {
    OfferState.VIEWED: frozenset({OfferState.SENT}),
    OfferState.ACCEPTED: frozenset({OfferState.SENT, OfferState.VIEWED}),
    OfferState.DECLINED: frozenset({OfferState.SENT, OfferState.VIEWED}),
    OfferState.EXPIRED: frozenset({OfferState.SENT, OfferState.VIEWED}),
    OfferState.SUPERSEDED: frozenset({OfferState.SENT, OfferState.VIEWED}),
}
# An active offer holds a seat of its opening and the slot's claim units.
ACTIVE = frozenset({OfferState.SENT, OfferState.VIEWED})


def may_move(source: OfferState, to: OfferState) -> bool:
    return source in MOVES.get(to, frozenset())


async def move(
    session: Session | None,
    offer_id: str,
    to: OfferState,
    now: datetime,
    *,
    where: dict[str, Any] | None = None,
    also: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Move the offer to `to` if it is in a state that may; the offer as it was before, or None
    when it was not (someone else moved it first). `where` narrows the condition (e.g. not past
    its expiry), `also` sets more fields."""
    from holdfast.waitlist.models import Offer

    before: dict[str, Any] | None = await Offer.get_pymongo_collection().find_one_and_update(
        {"_id": offer_id, "state": {"$in": [str(s) for s in MOVES[to]]}, **(where or {})},
        {"$set": {"state": str(to), "updated_at": now, **(also or {})}},
        session=session,
    )
    return before
