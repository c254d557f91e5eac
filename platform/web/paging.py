"""Paged lists over HTTP: `limit` and `cursor` query parameters in, a JSON array out, and the
next page named by a `Link: <…>; rel="next"` header and an `X-Next-Cursor` header (both absent
on the last page). The body stays the plain array the lists always returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from holdfast.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from holdfast.web.auth import Ctx
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import Parameter

T = TypeVar("T")

PAGE_HEADERS = [
    # `value` only gives the document its type (string); these are set per response by `paged`.
    ResponseHeader(
        name="Link",
        documentation_only=True,
        value="",
        description='The next page, as `<path?…&cursor=…>; rel="next"` (RFC 8288, relative to '
        "this request); absent on the last page.",
    ),
    ResponseHeader(
        name="X-Next-Cursor",
        documentation_only=True,
        value="",
        description="The `cursor` that asks for the next page; absent on the last page.",
    ),
]


async def provide_page(
    ctx: Ctx,
    limit: Annotated[
        int,
        Parameter(
            ge=1,
            le=MAX_LIMIT,
            description=f"Items per page (at most {MAX_LIMIT}).",
        ),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Parameter(
            description="Where to continue: the `X-Next-Cursor` of the previous page (opaque; "
            "one that this list with these filters did not give out is refused with 422 "
            "`invalid_cursor`).",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit, cursor, ctx.settings.secret_key.get_secret_value().encode())


# A handler parameter `page: Paging` gets the request's `limit` and `cursor` (see app.py).
Paging = NamedDependency[PageRequest]


def paged(
    request: Request[Any, Any, Any], items: Sequence[T], next_cursor: str | None
) -> Response[Sequence[T]]:
    """The items as a JSON array, with the headers that lead to the next page if there is one."""
    headers: dict[str, str] = {}
    if next_cursor is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        target = f"{request.url.path}?{urlencode([*query, ('cursor', next_cursor)])}"
        headers = {"Link": f'<{target}>; rel="next"', "X-Next-Cursor": next_cursor}
    return Response(items, headers=headers)
