"""Creating and reading providers, their weekly hours, and services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId, UpdateResponse
from holdfast.catalog.models import (
    DateOverride,
    Price,
    Provider,
    Service,
    WaitlistSettings,
    WeeklyHours,
)
from holdfast.catalog.schemas import AvailabilityIn, ServiceChanges, ServiceIn
from holdfast.clock import zone
from holdfast.errors import Invalid, NotFound
from holdfast.events import Event
from holdfast.paging import Page, PageRequest, Segment, read_page

if TYPE_CHECKING:  # the context holds catalog snapshots, which read through here
    from holdfast.context import Context

_OFFERED_BY = "_offered_by"


def object_id(value: str, what: str) -> PydanticObjectId:
    """An id from a request, or a 404 naming what was not found."""
    if not PydanticObjectId.is_valid(value):
        raise NotFound(f"There is no {what} with id {value}.", code=f"{what}_not_found")
    return PydanticObjectId(value)


async def get_provider(provider_id: str) -> Provider:
    provider = await Provider.get(object_id(provider_id, "provider"))
    if provider is None:
        raise NotFound(f"There is no provider with id {provider_id}.", code="provider_not_found")
    return provider


async def get_service(service_id: str) -> Service:
    service = await Service.get(object_id(service_id, "service"))
    if service is None:
        raise NotFound(f"There is no service with id {service_id}.", code="service_not_found")
    return service


async def service_with_providers(service_id: str) -> tuple[Service, list[Provider]]:
    """A service and the providers that offer it (in id order), in one round trip."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"_id": object_id(service_id, "service")}},
        {
            "$lookup": {
                "from": Provider.get_pymongo_collection().name,
                "localField": "provider_ids",
                "foreignField": "_id",
                "as": _OFFERED_BY,
            }
        },
    ]
    cursor = await Service.get_pymongo_collection().aggregate(pipeline)
    found = await cursor.to_list()
    if not found:
        raise NotFound(f"There is no service with id {service_id}.", code="service_not_found")
    providers = [Provider.model_validate(p) for p in found[0].pop(_OFFERED_BY)]
    providers.sort(key=lambda p: str(p.id))
    return Service.model_validate(found[0]), providers


async def list_providers() -> list[Provider]:
    """The providers clients may book (archived ones are hidden)."""
    return await Provider.find({"archived": {"$ne": True}}).sort("name", "_id").to_list()


async def list_services() -> list[Service]:
    """The services clients may book, each naming only providers they may book."""
    services = await Service.find({"archived": {"$ne": True}}).sort("name", "_id").to_list()
    archived = set(await Provider.get_pymongo_collection().distinct("_id", {"archived": True}))
    for service in services:
        service.provider_ids = [p for p in service.provider_ids if p not in archived]
    return services


async def catalog_page(
    model: type[Provider] | type[Service], page: PageRequest, *, archived: bool | None
) -> Page[Any]:
    """The admin's list of providers or services, archived ones too (or only one kind), in
    name order."""
    where: dict[str, Any] = {}
    if archived is not None:
        where["archived"] = {"$eq": True} if archived else {"$ne": True}
    segment = Segment(where, (("name", 1), ("_id", 1)))
    listing = f"{model.Settings.name}:{archived!r}"
    return await read_page(model, [segment], page, listing=listing)


async def create_provider(
    ctx: Context,
    *,
    name: str,
    timezone: str,
    email: str | None = None,
    calendly_user_uri: str | None = None,
) -> Provider:
    zone(timezone)
    provider = Provider(
        name=name,
        timezone=timezone,
        email=email,
        calendly_user_uri=calendly_user_uri,
        created_at=ctx.now(),
    )
    await provider.insert()
    await ctx.events.publish(Event("provider-updated", {"provider_id": str(provider.id)}))
    return provider


async def update_provider(ctx: Context, provider_id: str, changes: dict[str, Any]) -> Provider:
    """Change only the fields given: another admin's edit of other fields, made at the same
    time, is kept (a read-modify-`save()` of the whole document would revert it)."""
    if "timezone" in changes:
        zone(changes["timezone"])
    provider = await _change_provider(provider_id, changes)
    await ctx.events.publish(Event("provider-updated", {"provider_id": provider_id}))
    return provider


async def set_weekly_availability(
    ctx: Context, provider_id: str, hours: AvailabilityIn
) -> Provider:
    """Replace the weekly rules and the date exceptions together, in one update."""
    changes = {
        "rules": [WeeklyHours(**r.model_dump()) for r in hours.rules],
        "exceptions": [DateOverride(**e.model_dump()) for e in hours.exceptions],
    }
    provider = await _change_provider(provider_id, changes)
    await ctx.events.publish(Event("availability-changed", {"provider_id": provider_id}))
    return provider


async def _change_provider(provider_id: str, changes: dict[str, Any]) -> Provider:
    """One conditional `$set` of exactly these fields; the provider as it is afterwards."""
    if not changes:
        return await get_provider(provider_id)
    # Beanie's update encodes the values as `save()` would (a date as a midnight datetime).
    found = await Provider.find_one({"_id": object_id(provider_id, "provider")}).update(
        {"$set": changes}, response_type=UpdateResponse.NEW_DOCUMENT
    )
    if not isinstance(found, Provider):
        raise NotFound(f"There is no provider with id {provider_id}.", code="provider_not_found")
    return found


async def _provider_ids(given: list[str]) -> list[PydanticObjectId]:
    provider_ids = [object_id(p, "provider") for p in given]
    found = await Provider.find({"_id": {"$in": provider_ids}}).count()
    if found != len(set(provider_ids)):
        raise Invalid("One or more provider_ids name no provider.", code="unknown_provider")
    return list(dict.fromkeys(provider_ids))


async def create_service(ctx: Context, data: ServiceIn) -> Service:
    service = Service(
        **data.model_dump(exclude={"price", "provider_ids", "slot_step_minutes", "waitlist"}),
        slot_step_minutes=data.slot_step_minutes or data.duration_minutes,
        price=Price(**data.price.model_dump()) if data.price else None,
        provider_ids=await _provider_ids(data.provider_ids),
        waitlist=WaitlistSettings(**data.waitlist.model_dump() if data.waitlist else {}),
        created_at=ctx.now(),
    )
    await service.insert()
    await ctx.events.publish(Event("service-updated", {"service_id": str(service.id)}))
    return service


async def update_service(ctx: Context, service_id: str, data: ServiceChanges) -> Service:
    """Change only the fields sent, in one `$set`: another admin's edit of other fields at the
    same time is kept. Bookings already made keep their times and buffers."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "provider_ids" in changes:
        changes["provider_ids"] = await _provider_ids(changes["provider_ids"])
    if "price" in changes and changes["price"] is not None:
        changes["price"] = Price(**changes["price"])
    if "waitlist" in changes:
        changes["waitlist"] = WaitlistSettings(**changes["waitlist"])
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    wanted = object_id(service_id, "service")
    if not changes:
        return await get_service(service_id)
    found = await Service.find_one({"_id": wanted}).update(
        {"$set": changes}, response_type=UpdateResponse.NEW_DOCUMENT
    )
    if not isinstance(found, Service):
        raise NotFound(f"There is no service with id {service_id}.", code="service_not_found")
    await ctx.events.publish(Event("service-updated", {"service_id": service_id}))
    return found
