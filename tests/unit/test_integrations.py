"""Pure parts of the integrations: Google event ids, tokens sealed at rest, what counts as busy."""

from __future__ import annotations

import re
from datetime import date

import pytest
from beanie import PydanticObjectId
from holdfast.integrations.credentials import SealBroken, seal, unseal
from holdfast.integrations.google.calendar import _read
from holdfast.integrations.google.events import event_id
from pydantic import SecretStr

KEY = SecretStr("a-secret-key-that-is-long-enough-for-holdfast-0123")


def test_an_event_id_is_base32hex_and_the_same_for_the_same_booking() -> None:
    booking = PydanticObjectId()
    made = event_id(booking)
    assert re.fullmatch(r"[0-9a-v]{5,1024}", made), made
    assert made == event_id(PydanticObjectId(str(booking)))
    assert made != event_id(PydanticObjectId())


def test_a_sealed_token_opens_only_with_its_key() -> None:
    sealed = seal("1//refresh-token", KEY)
    assert "refresh-token" not in sealed
    assert unseal(sealed, KEY) == "1//refresh-token"
    with pytest.raises(SealBroken):
        unseal(sealed, SecretStr("another-secret-key-that-is-long-enough-012345"))
    with pytest.raises(SealBroken):
        unseal(sealed[:-4] + "AAAA", KEY)


def test_what_counts_as_busy() -> None:
    timed = {
        "start": {"dateTime": "2027-03-03T11:00:00+01:00"},
        "end": {"dateTime": "2027-03-03T12:00:00Z"},
    }
    busy = _read({"id": "a", "status": "confirmed", **timed})
    assert (
        busy.busy
        and busy.start is not None
        and busy.start.isoformat() == "2027-03-03T10:00:00+00:00"
    )
    assert not _read({"id": "b", "transparency": "transparent", **timed}).busy
    assert not _read({"id": "c", "status": "cancelled"}).busy
    ours = {"extendedProperties": {"private": {"holdfast_booking": "x"}}}
    assert not _read({"id": "d", **timed, **ours}).busy
    all_day = _read({"id": "e", "start": {"date": "2027-03-03"}, "end": {"date": "2027-03-04"}})
    assert all_day.busy and all_day.start == date(2027, 3, 3)
