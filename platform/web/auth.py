"""Who is asking: a Bearer token or the session cookie, resolved to a user."""

from __future__ import annotations

from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.service import user_for_token
from holdfast.context import Context
from holdfast.errors import Forbidden, Unauthorized
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

SESSION_COOKIE = "holdfast_session"


def provide_ctx(state: State) -> Context:
    ctx: Context = state.ctx
    return ctx


def request_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def provide_user(request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> User:
    token = request_token(request)
    if token is None:
        raise Unauthorized("Please log in first.", code="login_required")
    return await user_for_token(ctx, token)


async def provide_admin(user: NamedDependency[User]) -> User:
    if user.role != "admin":
        raise Forbidden("Only an admin may do this.", code="admin_only")
    return user


# Handler parameters name their dependency explicitly (Litestar 3 drops inference).
Ctx = NamedDependency[Context]
CurrentUser = NamedDependency[User]
AdminUser = NamedDependency[User]
