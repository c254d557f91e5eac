from __future__ import annotations

from zoneinfo import ZoneInfo

from holdfast.availability.service import OfferedSlot, SlotPage, as_local
from holdfast.schemas import UtcInstant
from pydantic import BaseModel, Field


class SlotOut(BaseModel):
    provider_id: str
    start: UtcInstant
    end: UtcInstant
    start_local: str = Field(description="The start in the asked timezone, with its offset.")

    @classmethod
    def of(cls, slot: OfferedSlot, tz: ZoneInfo) -> SlotOut:
        return cls(
            provider_id=slot.provider_id,
            start=slot.start,
            end=slot.end,
            start_local=as_local(slot.start, tz),
        )


class SlotPageOut(BaseModel):
    timezone: str
    slots: list[SlotOut]
    next: UtcInstant | None = Field(
        description="More slots follow in the window: ask again with the same parameters and "
        "`cursor` set to this value. Null on the last page."
    )

    @classmethod
    def of(cls, page: SlotPage) -> SlotPageOut:
        return cls(
            timezone=str(page.timezone),
            slots=[SlotOut.of(s, page.timezone) for s in page.slots],
            next=page.following,
        )
