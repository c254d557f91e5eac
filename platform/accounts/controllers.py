"""Accounts: users, roles, passwords and login sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from holdfast.accounts import reset, service, sessions
from holdfast.accounts.schemas import (
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfileIn,
    RegisterIn,
    UserOut,
)
from holdfast.context import Context
from holdfast.errors import Unauthorized
from holdfast.web.auth import SESSION_COOKIE, AdminUser, Ctx, CurrentUser, peek_caller
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from holdfast.web.ratelimit import client_address
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery, JSONBody, QueryParameter


def _session_cookie(ctx: Context, token: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.public_url.startswith("https://"),
        max_age=ctx.settings.session_hours * 3600,
        path="/",
    )


class AccountController(Controller):
    path = "/api"
    tags = ["accounts"]

    @post("/auth/register", status_code=201, opt=answers(service.EmailTaken))
    async def register(
        self, data: JSONBody[RegisterIn], ctx: Ctx, request: Request[Any, Any, Any]
    ) -> UserOut:
        user = await service.register(
            ctx,
            email=data.email,
            password=data.password,
            name=data.name,
            timezone=data.timezone,
            phone=data.phone,
            client_address=client_address(request.scope),
        )
        return UserOut.of(user)

    @post("/auth/login", status_code=200, opt=answers(Unauthorized))
    async def login(
        self, data: JSONBody[LoginIn], ctx: Ctx, request: Request[Any, Any, Any]
    ) -> Response[LoginOut]:
        token, user = await service.log_in(
            ctx, email=data.email, password=data.password, address=client_address(request.scope)
        )
        return Response(
            LoginOut(token=token, user=UserOut.of(user)), cookies=[_session_cookie(ctx, token)]
        )

    @post("/auth/logout", status_code=200)
    async def logout(self, ctx: Ctx, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        """Ends this session: its token, wherever it was copied, stops working."""
        caller = peek_caller(request.scope, ctx)
        if caller is not None:
            await sessions.end_session(ctx, caller)
        return Response(
            {"status": "logged_out"},
            cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")],
        )

    @post("/auth/password-reset", status_code=202)
    async def request_password_reset(
        self, data: JSONBody[PasswordResetIn], ctx: Ctx
    ) -> dict[str, str]:
        """202 whatever the address: if an account holds it, a link valid 30 minutes is
        emailed (at most one a minute)."""
        await reset.request_reset(ctx, email=data.email)
        return {
            "status": "accepted",
            "detail": "If an account uses this address, we have emailed it a link to choose a "
            "new password. The link works once, within 30 minutes.",
        }

    @post(
        "/auth/password-reset/confirm",
        status_code=200,
        opt=answers(reset.ResetLinkGone, reset.ResetLinkInvalid),
    )
    async def confirm_password_reset(
        self, data: JSONBody[PasswordResetConfirmIn], ctx: Ctx
    ) -> Response[dict[str, str]]:
        """Sets the new password; every session of the account ends (this browser's too)."""
        await reset.confirm_reset(ctx, token=data.token, password=data.password)
        return Response(
            {"status": "password_changed"},
            cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")],
        )

    @get("/me")
    async def me(self, user: CurrentUser) -> UserOut:
        return UserOut.of(user)

    @patch("/me")
    async def update_me(self, data: JSONBody[ProfileIn], ctx: Ctx, user: CurrentUser) -> UserOut:
        """Only the fields sent change: name, timezone, phone (null removes it; SMS reminders
        and waitlist offers go to it), reminder_emails."""
        changes = data.model_dump(include=data.model_fields_set)
        return UserOut.of(await service.update_profile(ctx, user, changes))

    @post("/me/password", status_code=200, opt=answers(service.WrongPassword))
    async def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        ctx: Ctx,
        user: CurrentUser,
        request: Request[Any, Any, Any],
    ) -> Response[LoginOut]:
        """Every other session ends; this one goes on with the token returned (and cookie)."""
        token, changed = await service.change_password(
            ctx,
            user=user,
            current=data.current_password,
            new=data.new_password,
            address=client_address(request.scope),
        )
        return Response(
            LoginOut(token=token, user=UserOut.of(changed)), cookies=[_session_cookie(ctx, token)]
        )

    @get("/admin/users", response_headers=PAGE_HEADERS)
    async def find_users(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        email: FromQuery[str | None] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=200, description="A prefix of the email or of a word of the name."
            ),
        ] = None,
    ) -> Response[Sequence[UserOut]]:
        """Users in email order: one by exact `email`, or those matching `q`."""
        found = await service.find_users(page, email=email, q=q)
        return paged(request, [UserOut.of(u) for u in found.items], found.next_cursor)
