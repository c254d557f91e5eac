"""The integrations' HTTP surface: the status board; connecting, reading and disconnecting a
provider's Google Calendar; Google's push notifications."""

from __future__ import annotations

from typing import Annotated, Any

from holdfast.errors import Invalid, NotFound
from holdfast.integrations import status
from holdfast.integrations.google import channels, connections
from holdfast.integrations.google.sync import read_now
from holdfast.integrations.status import IntegrationStatus
from holdfast.schemas import UtcInstant
from holdfast.web.auth import AdminUser, Ctx
from holdfast.web.openapi import answers
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect
from pydantic import BaseModel


class IntegrationOut(BaseModel):
    integration: str
    state: str
    detail: str
    provider_id: str | None
    provider_name: str | None
    last_error: str | None
    failing_since: UtcInstant | None
    last_synced_at: UtcInstant | None
    reconnect_needed: bool

    @classmethod
    def of(cls, item: IntegrationStatus) -> IntegrationOut:
        return cls.model_validate(item, from_attributes=True)


class ConsentOut(BaseModel):
    url: str


class SyncOut(BaseModel):
    integration: IntegrationOut
    # None: another read of this calendar was under way; its result shows in `integration`.
    full: bool | None
    changed: int | None
    synced_at: UtcInstant | None


class IntegrationController(Controller):
    path = ""
    tags = ["integrations"]

    @get("/api/admin/integrations")
    async def board(self, ctx: Ctx, admin: AdminUser) -> list[IntegrationOut]:
        """Every integration and its state (a short, fixed list: one row per provider for
        Google, one for each other integration), so it is not paged."""
        return [IntegrationOut.of(item) for item in await status.integrations(ctx)]

    @get(
        "/api/admin/providers/{provider_id:str}/google/connect",
        opt=answers(NotFound, connections.GoogleNotConfigured),
    )
    async def connect(self, ctx: Ctx, admin: AdminUser, provider_id: FromPath[str]) -> ConsentOut:
        """The Google consent page to send the provider's browser to."""
        return ConsentOut(url=await connections.consent_url(ctx, provider_id, str(admin.id)))

    @get(
        connections.CALLBACK_PATH,
        status_code=303,
        opt=answers(
            Invalid,
            connections.OAuthStateInvalid,
            connections.GoogleUnavailable,
            connections.GoogleNotConfigured,
        ),
    )
    async def callback(
        self,
        ctx: Ctx,
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        code: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Redirect:
        """Where Google sends the browser back: a public link, trusted only through `state`."""
        await connections.finish_connect(ctx, state=oauth_state, code=code, error=error)
        return Redirect(path="/admin/integrations?google=connected", status_code=303)

    @post(
        "/api/admin/providers/{provider_id:str}/google/sync",
        status_code=200,
        opt=answers(
            NotFound,
            connections.GoogleNotConfigured,
            connections.GoogleUnavailable,
            connections.GoogleReconnectNeeded,
        ),
    )
    async def sync(self, ctx: Ctx, admin: AdminUser, provider_id: FromPath[str]) -> SyncOut:
        """Read the calendar's busy time now."""
        provider, result = await read_now(ctx, provider_id)
        board = IntegrationOut.of(await status.google_status(ctx, provider))
        return SyncOut(
            integration=board,
            full=result.full if result else None,
            changed=result.changed if result else None,
            synced_at=ctx.now() if result else None,
        )

    @delete(
        "/api/admin/providers/{provider_id:str}/google",
        status_code=204,
        opt=answers(NotFound),
    )
    async def disconnect(self, ctx: Ctx, admin: AdminUser, provider_id: FromPath[str]) -> None:
        """Disconnect the provider's Google Calendar; one not connected is disconnected already
        (204), so a retried request succeeds."""
        await connections.disconnect(ctx, provider_id)


class GoogleNotificationController(Controller):
    """Google Calendar's push notifications: trusted through the channel's token, never a
    session (served outside the app's cross-site, rate-limit and cache layers: see
    `holdfast.web.app`)."""

    path = ""
    tags = ["integrations"]

    @post(channels.WEBHOOK_PATH, status_code=204, opt=answers(channels.ChannelTokenInvalid))
    async def google_notification(self, ctx: Ctx, request: Request[Any, Any, Any]) -> None:
        """Google's push notification that a calendar changed: a public link, trusted only
        through the channel's token; the calendar is read by a job at once."""
        headers = request.headers
        await channels.receive(
            ctx,
            channel_id=headers.get("x-goog-channel-id"),
            token=headers.get("x-goog-channel-token"),
            resource_id=headers.get("x-goog-resource-id"),
            state=headers.get("x-goog-resource-state"),
            number=headers.get("x-goog-message-number"),
        )
