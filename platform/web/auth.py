"""Who is asking: a Bearer token or the session cookie, resolved to a user."""

from __future__ import annotations

from typing import Any

from holdfast.accounts.models import User
from holdfast.accounts.sessions import token_user
from holdfast.accounts.tokens import Caller, read_session_token
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


def _token_verdict(scope: Scope, ctx: Context) -> Caller | Unauthorized | None:
    """The request's token read once, however many middlewares and dependencies ask: the
    caller it names, why it is refused, or None when there is no token."""
    state = scope.setdefault("state", {})
    if "holdfast_caller" not in state:
        token = scope_token(scope)
        verdict: Caller | Unauthorized | None = None
        if token is not None:
            secret = ctx.settings.secret_key.get_secret_value()
            try:
                verdict = read_session_token(token, secret=secret, now=ctx.now())
            except Unauthorized as refused:
                verdict = refused
        state["holdfast_caller"] = verdict
    found: Caller | Unauthorized | None = state["holdfast_caller"]
    return found


def peek_caller(scope: Scope, ctx: Context) -> Caller | None:
    """Who a valid token names, without the database (rate limits, the cache)."""
    verdict = _token_verdict(scope, ctx)
    return verdict if isinstance(verdict, Caller) else None


def request_caller(request: Request[Any, Any, Any], ctx: Context) -> Caller:
    """Who a valid token names, or 401 saying what is wrong with it."""
    verdict = _token_verdict(request.scope, ctx)
    if verdict is None:
        raise Unauthorized("Please log in first.", code="login_required")
    if isinstance(verdict, Unauthorized):
        raise verdict
    return verdict


async def _user_verdict(scope: Scope, ctx: Context) -> User | Unauthorized | None:
    """The account behind the request's token, read once per request (the cache middleware
    and the handler's dependency both ask): the user, why the token is refused, or None."""
    state = scope.setdefault("state", {})
    if "holdfast_user" not in state:
        verdict: User | Unauthorized | None = None
        caller = _token_verdict(scope, ctx)
        if isinstance(caller, Unauthorized):
            verdict = caller
        elif caller is not None:
            try:
                verdict = await token_user(caller)
            except Unauthorized as refused:
                verdict = refused
        state["holdfast_user"] = verdict
    found: User | Unauthorized | None = state["holdfast_user"]
    return found


async def scope_user(scope: Scope, ctx: Context) -> User | None:
    """The account a valid token names and that still holds its session, else None."""
    verdict = await _user_verdict(scope, ctx)
    return verdict if isinstance(verdict, User) else None


async def provide_user(request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> User:
    """The account behind the token: authorisation always reads it from MongoDB."""
    verdict = await _user_verdict(request.scope, ctx)
    if verdict is None:
        raise Unauthorized("Please log in first.", code="login_required")
    if isinstance(verdict, Unauthorized):
        raise verdict
    return verdict


async def provide_admin(user: NamedDependency[User]) -> User:
    if user.role != "admin":
        raise Forbidden("Only an admin may do this.", code="admin_only")
    return user


# Handler parameters name their dependency explicitly (Litestar 3 drops inference).
Ctx = NamedDependency[Context]
CurrentUser = NamedDependency[User]
AdminUser = NamedDependency[User]
