"""Pages of a long list: keyset paging in a fixed order, with opaque signed cursors.

A cursor names the last item a page showed by its sort values, so the next page starts right
after it whatever was added or removed meanwhile (an offset would skip or repeat items). It is
signed with the secret key: a client can only hand back a cursor we gave out, and a cursor from
another list, or from the same list with other filters, is refused rather than misread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from beanie import Document
from bson import json_util
from bson.json_util import JSONOptions
from holdfast.errors import Invalid

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_MAX_CURSOR = 2048
_CONTEXT = b"holdfast-cursor\x00"  # these signatures mean "a cursor", never anything else
_JSON = JSONOptions(tz_aware=True)

D = TypeVar("D", bound=Document)
Order = tuple[tuple[str, int], ...]  # (field, 1 ascending or -1 descending); the last unique


class InvalidCursor(Invalid):
    code = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a list: the documents matching `where`, in `order`."""

    where: dict[str, Any]
    order: Order


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the segment, the last item's sort values, and whatever the list
    fixed on its first page (e.g. the instant that splits upcoming from past)."""

    segment: int
    values: tuple[Any, ...]
    pinned: Any = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """How many items, after which cursor (as the client sent it), and the key cursors are
    signed with."""

    limit: int
    cursor: str | None
    key: bytes

    def position(self, listing: str) -> Position | None:
        """Where the previous page of `listing` ended; `InvalidCursor` if the cursor is not one
        this list gave out."""
        if self.cursor is None:
            return None
        try:
            if len(self.cursor) > _MAX_CURSOR:
                raise ValueError("too long")
            encoded, signature = self.cursor.encode("ascii").split(b".")
            payload = base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4))
            given = base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4))
            if not hmac.compare_digest(given, self._sign(payload)):
                raise ValueError("signature")
            fields = json_util.loads(payload, json_options=_JSON)
            if fields["l"] != listing:
                raise ValueError("another list")
            return Position(int(fields["s"]), tuple(fields["v"]), fields.get("p"))
        except (ValueError, UnicodeError, KeyError, TypeError):
            raise InvalidCursor(
                "That cursor was not given out by this list (or with these filters); "
                "ask for the first page again without it."
            ) from None

    def cursor_for(self, listing: str, position: Position) -> str:
        fields = {"l": listing, "s": position.segment, "v": list(position.values)}
        if position.pinned is not None:
            fields["p"] = position.pinned
        payload = json_util.dumps(fields, json_options=_JSON, separators=(",", ":")).encode()
        return ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (payload, self._sign(payload))
        )

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self.key, _CONTEXT + payload, hashlib.sha256).digest()[:18]


@dataclass(frozen=True, slots=True)
class Page(Generic[D]):
    items: list[D]
    next_cursor: str | None


def _after(order: Order, values: Sequence[Any]) -> dict[str, Any]:
    """Documents that come after `values` in `order`: later on the first key, or equal on it
    and later on the next, and so on. The first key's bound is also given on its own: MongoDB
    turns it into index bounds (the `$or` alone is a filter on what was fetched, so the list's
    index was walked, and every earlier page fetched again, from the list's start)."""
    alternatives = []
    for depth, (field, direction) in enumerate(order):
        equal = {order[i][0]: values[i] for i in range(depth)}
        alternatives.append({**equal, field: {"$gt" if direction > 0 else "$lt": values[depth]}})
    first, direction = order[0]
    return {first: {"$gte" if direction > 0 else "$lte": values[0]}, "$or": alternatives}


async def read_page(
    model: type[D],
    segments: Sequence[Segment],
    request: PageRequest,
    *,
    listing: str,
    pinned: Any = None,
) -> Page[D]:
    """One page of the list the segments make, one after another, starting after the
    request's cursor. `pinned` is stored in the cursor; pass what `request.position` gave back
    for the pages after the first."""
    position = request.position(listing)
    if position is not None and not (
        0 <= position.segment < len(segments)
        and len(position.values) == len(segments[position.segment].order)
    ):
        raise InvalidCursor("That cursor does not fit this list; ask for the first page again.")
    found: list[tuple[int, dict[str, Any]]] = []
    start = position.segment if position else 0
    for index in range(start, len(segments)):
        segment = segments[index]
        where = segment.where
        if position is not None and index == position.segment:
            where = {"$and": [where, _after(segment.order, position.values)]}
        cursor = model.get_pymongo_collection().find(
            where, sort=list(segment.order), limit=request.limit + 1 - len(found)
        )
        found += [(index, raw) async for raw in cursor]
        if len(found) > request.limit:
            break
    next_cursor = None
    if len(found) > request.limit:
        found = found[: request.limit]
        index, last = found[-1]
        values = tuple(last[field] for field, _ in segments[index].order)
        next_cursor = request.cursor_for(listing, Position(index, values, pinned))
    return Page([model.model_validate(raw) for _, raw in found], next_cursor)
