from __future__ import annotations

from dataclasses import dataclass, field

from beanie import PydanticObjectId
from holdfast.schemas import Input, InstantIn, UtcInstant
from holdfast.waitlist.models import Offer, WaitlistEntry
from holdfast.waitlist.states import OfferState
from pydantic import BaseModel, Field


class WaitlistIn(Input):
    service_id: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Omitted: any provider will do."
    )
    earliest: InstantIn | None = Field(
        default=None, description="Only slots starting then or later."
    )
    latest: InstantIn | None = Field(default=None, description="Only slots ending by then.")


class EntryOut(BaseModel):
    id: str
    user_id: str
    service_id: str
    provider_id: str | None
    earliest: UtcInstant | None
    latest: UtcInstant | None
    joined_at: UtcInstant

    @classmethod
    def of(cls, entry: WaitlistEntry) -> EntryOut:
        return cls(
            id=str(entry.id),
            user_id=str(entry.user_id),
            service_id=str(entry.service_id),
            provider_id=str(entry.provider_id) if entry.provider_id else None,
            earliest=entry.earliest,
            latest=entry.latest,
            joined_at=entry.joined_at,
        )


class OfferOut(BaseModel):
    id: str
    opening_id: str
    user_id: str
    service_id: str
    provider_id: str
    start: UtcInstant
    end: UtcInstant
    state: OfferState
    created_at: UtcInstant
    expires_at: UtcInstant
    viewed_at: UtcInstant | None
    booking_id: str | None

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(
            **offer.model_dump(include={"id", "opening_id", "start", "end", "state", "created_at",
                                        "expires_at", "viewed_at"}),
            user_id=str(offer.user_id),
            service_id=str(offer.service_id),
            provider_id=str(offer.provider_id),
            booking_id=str(offer.booking_id) if offer.booking_id else None,
        )  # fmt: skip


class OfferView(BaseModel):
    """An offer as the person it is for sees it through their link."""

    state: OfferState
    service: str
    provider: str
    start: UtcInstant
    end: UtcInstant
    start_local: str  # in the provider's timezone, which `timezone` names
    timezone: str
    expires_at: UtcInstant
    booking_id: str | None


@dataclass(frozen=True, slots=True)
class Names:
    """The names of the people, services and providers a page of the admin's lists names."""

    users: dict[PydanticObjectId, str] = field(default_factory=dict)
    emails: dict[PydanticObjectId, str] = field(default_factory=dict)
    services: dict[PydanticObjectId, str] = field(default_factory=dict)
    providers: dict[PydanticObjectId, str] = field(default_factory=dict)


class AdminEntryOut(EntryOut):
    """An entry as the practice sees it: who waits for what, by name."""

    user_name: str | None = Field(description="None: the account is gone.")
    user_email: str | None = None
    service_name: str | None
    provider_name: str | None = Field(description="None: any provider will do.")

    @classmethod
    def named(cls, entry: WaitlistEntry, names: Names) -> AdminEntryOut:
        return cls(
            **EntryOut.of(entry).model_dump(),
            user_name=names.users.get(entry.user_id),
            user_email=names.emails.get(entry.user_id),
            service_name=names.services.get(entry.service_id),
            provider_name=names.providers.get(entry.provider_id) if entry.provider_id else None,
        )


class AdminOfferOut(OfferOut):
    """An offer as the practice sees it: to whom, for what, by name."""

    user_name: str | None = Field(description="None: the account is gone.")
    user_email: str | None = None
    service_name: str | None
    provider_name: str | None

    @classmethod
    def named(cls, offer: Offer, names: Names) -> AdminOfferOut:
        return cls(
            **OfferOut.of(offer).model_dump(),
            user_name=names.users.get(offer.user_id),
            user_email=names.emails.get(offer.user_id),
            service_name=names.services.get(offer.service_id),
            provider_name=names.providers.get(offer.provider_id),
        )
