"""Who is asking: a Bearer token or the session cookie, resolved to a user."""

from __future__ import annotations

from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.service import token_user, user_for_token
from holdfast.accounts.tokens import peek_session_token
from holdfast.context import Context
from holdfast.errors import Forbidden, Unauthorized
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.types import Scope

SESSION_COOKIE = "holdfast_session"


def provide_ctx(state: State) -> Context:
    ctx: Context = state.ctx
    return ctx


def scope_token(scope: Scope) -> str | None:
    """The Bearer token, else the session cookie: the one place a request's token is read."""
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


def request_token(request: Request[Any, Any, Any]) -> str | None:
    return scope_token(request.scope)


def peek_caller(scope: Scope, ctx: Context) -> tuple[str, str] | None:
    """(user id, role) a valid token claims, without the database; decoded once per request
    however many middlewares ask (rate limits, the cache). Authorisation still reads MongoDB."""
    state = scope.setdefault("state", {})
    if "holdfast_caller" not in state:
        token = scope_token(scope)
        secret = ctx.settings.secret_key.get_secret_value()
        state["holdfast_caller"] = token and peek_session_token(token, secret=secret, now=ctx.now())
    caller: tuple[str, str] | None = state["holdfast_caller"] or None
    return caller


async def provide_user(request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> User:
    caller = peek_caller(request.scope, ctx)
    if caller is not None:
        return await token_user(caller[0])
    token = request_token(request)
    if token is None:
        raise Unauthorized("Please log in first.", code="login_required")
    return await user_for_token(ctx, token)  # refuses the token, saying why


async def provide_admin(user: NamedDependency[User]) -> User:
    if user.role != "admin":
        raise Forbidden("Only an admin may do this.", code="admin_only")
    return user


# Handler parameters name their dependency explicitly (Litestar 3 drops inference).
Ctx = NamedDependency[Context]
CurrentUser = NamedDependency[User]
AdminUser = NamedDependency[User]
