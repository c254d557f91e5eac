"""Shared pieces of the API's JSON shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from holdfast.clock import iso_z
from pydantic import BaseModel, ConfigDict, PlainSerializer

# Every instant leaves the API as ISO 8601 UTC ending in Z.
UtcInstant = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="always")]


class Input(BaseModel):
    """Request bodies: unknown fields are refused so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
