from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from holdfast.catalog import service
from holdfast.catalog.models import Provider, Service
from holdfast.catalog.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    DateOverrideIn,
    ProviderAdminOut,
    ProviderChanges,
    ProviderIn,
    ProviderOut,
    ServiceAdminOut,
    ServiceChanges,
    ServiceIn,
    ServiceOut,
    WeeklyHoursIn,
)
from holdfast.errors import NotFound
from holdfast.web.auth import AdminUser, Ctx
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

Archived = Annotated[
    bool | None,
    QueryParameter(description="true: only archived ones; false: only current ones; unset: all."),
]


def _availability(provider: Provider) -> AvailabilityOut:
    return AvailabilityOut(
        provider_id=str(provider.id),
        timezone=provider.timezone,
        rules=[WeeklyHoursIn(**r.model_dump()) for r in provider.rules],
        exceptions=[DateOverrideIn(**e.model_dump()) for e in provider.exceptions],
    )


class CatalogController(Controller):
    path = "/api"
    tags = ["catalog"]

    @get("/services")
    async def services(self, ctx: Ctx) -> list[ServiceOut]:
        default = ctx.settings.calendly_scheduling_url
        return [ServiceOut.of(s, calendly_default=default) for s in await service.list_services()]

    @get("/providers")
    async def providers(self) -> list[ProviderOut]:
        return [ProviderOut.of(p) for p in await service.list_providers()]

    @get("/providers/{provider_id:str}/availability")
    async def provider_hours(self, provider_id: FromPath[str]) -> AvailabilityOut:
        return _availability(await service.get_provider(provider_id))


class CatalogAdminController(Controller):
    path = "/api/admin"
    tags = ["catalog admin"]

    @post("/providers", status_code=201)
    async def create_provider(
        self, data: JSONBody[ProviderIn], ctx: Ctx, admin: AdminUser
    ) -> ProviderOut:
        return ProviderOut.of(await service.create_provider(ctx, **data.model_dump()))

    @put("/providers/{provider_id:str}")
    async def update_provider(
        self, provider_id: FromPath[str], data: JSONBody[ProviderIn], ctx: Ctx, admin: AdminUser
    ) -> ProviderOut:
        """Sets the fields sent (name and timezone are required here); others are kept."""
        changes = data.model_dump(exclude_unset=True)
        return ProviderOut.of(await service.update_provider(ctx, provider_id, changes))

    @patch("/providers/{provider_id:str}")
    async def change_provider(
        self,
        provider_id: FromPath[str],
        data: JSONBody[ProviderChanges],
        ctx: Ctx,
        admin: AdminUser,
    ) -> ProviderAdminOut:
        """Changes only the fields sent; `archived: true` hides the provider from booking."""
        changes = data.model_dump(exclude_unset=True)
        return ProviderAdminOut.of(await service.update_provider(ctx, provider_id, changes))

    @get("/providers", response_headers=PAGE_HEADERS)
    async def all_providers(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        archived: Archived = None,
    ) -> Response[Sequence[ProviderAdminOut]]:
        """Every provider, archived ones too, in name order."""
        found = await service.catalog_page(Provider, page, archived=archived)
        return paged(request, [ProviderAdminOut.of(p) for p in found.items], found.next_cursor)

    @get("/services", response_headers=PAGE_HEADERS)
    async def all_services(
        self,
        ctx: Ctx,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        archived: Archived = None,
    ) -> Response[Sequence[ServiceAdminOut]]:
        """Every service, archived ones too, in name order."""
        found = await service.catalog_page(Service, page, archived=archived)
        default = ctx.settings.calendly_scheduling_url
        items = [ServiceAdminOut.of(s, calendly_default=default) for s in found.items]
        return paged(request, items, found.next_cursor)

    @patch("/services/{service_id:str}", opt=answers(NotFound))
    async def change_service(
        self, service_id: FromPath[str], data: JSONBody[ServiceChanges], ctx: Ctx, admin: AdminUser
    ) -> ServiceAdminOut:
        """Changes only the fields sent; `archived: true` hides the service from booking."""
        changed = await service.update_service(ctx, service_id, data)
        return ServiceAdminOut.of(changed, calendly_default=ctx.settings.calendly_scheduling_url)

    @put("/providers/{provider_id:str}/availability")
    async def set_hours(
        self, provider_id: FromPath[str], data: JSONBody[AvailabilityIn], ctx: Ctx, admin: AdminUser
    ) -> AvailabilityOut:
        return _availability(await service.set_weekly_availability(ctx, provider_id, data))

    @post("/services", status_code=201, opt=answers(NotFound))
    async def create_service(
        self, data: JSONBody[ServiceIn], ctx: Ctx, admin: AdminUser
    ) -> ServiceOut:
        return ServiceOut.of(await service.create_service(ctx, data))
