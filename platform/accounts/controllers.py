from __future__ import annotations

from typing import Any

from holdfast.accounts import service
from holdfast.accounts.schemas import LoginIn, LoginOut, RegisterIn, UserOut
from holdfast.errors import Unauthorized
from holdfast.web.auth import SESSION_COOKIE, AdminUser, Ctx, CurrentUser
from holdfast.web.openapi import answers
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery, JSONBody


class AccountController(Controller):
    path = "/api"
    tags = ["accounts"]

    @post("/auth/register", status_code=201, opt=answers(service.EmailTaken))
    async def register(self, data: JSONBody[RegisterIn], ctx: Ctx) -> UserOut:
        user = await service.register(
            ctx,
            email=data.email,
            password=data.password,
            name=data.name,
            timezone=data.timezone,
            phone=data.phone,
        )
        return UserOut.of(user)

    @post("/auth/login", status_code=200, opt=answers(Unauthorized))
    async def login(
        self, data: JSONBody[LoginIn], ctx: Ctx, request: Request[Any, Any, Any]
    ) -> Response[LoginOut]:
        address = request.client.host if request.client else "unknown"
        token, user = await service.log_in(
            ctx, email=data.email, password=data.password, address=address
        )
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=token,
            httponly=True,
            samesite="lax",
            secure=ctx.settings.public_url.startswith("https://"),
            max_age=ctx.settings.session_hours * 3600,
            path="/",
        )
        return Response(LoginOut(token=token, user=UserOut.of(user)), cookies=[cookie])

    @post("/auth/logout", status_code=200)
    async def logout(self) -> Response[dict[str, str]]:
        return Response(
            {"status": "logged_out"},
            cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")],
        )

    @get("/me")
    async def me(self, user: CurrentUser) -> UserOut:
        return UserOut.of(user)

    @get("/admin/users")
    async def find_users(
        self, admin: AdminUser, email: FromQuery[str | None] = None
    ) -> list[UserOut]:
        return [UserOut.of(u) for u in await service.find_users(email=email)]
