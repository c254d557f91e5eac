"""The waitlist's pure rules: the offer state table, the webhook signature, the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from holdfast.errors import Invalid
from holdfast.inbox.signature import SignatureInvalid
from holdfast.monitoring.stats import window
from holdfast.waitlist.states import ACTIVE, MOVES, OfferState, may_move
from holdfast.waitlist.webhook import sign, verify

ENDS = {OfferState.ACCEPTED, OfferState.DECLINED, OfferState.EXPIRED, OfferState.SUPERSEDED}


def test_only_an_open_offer_moves_and_every_end_is_final() -> None:
    assert set(MOVES) == ENDS | {OfferState.VIEWED}
    for source in OfferState:
        for to in OfferState:
            expected = (
                source in ACTIVE
                and to != OfferState.SENT
                and (to != OfferState.VIEWED or source == OfferState.SENT)
            )
            assert may_move(source, to) == expected, (source, to)
    assert ACTIVE == {OfferState.SENT, OfferState.VIEWED}


def test_the_signature_is_an_hmac_of_the_raw_body() -> None:
    body = b'{"event_type": "appointment.cancelled"}'
    verify("key", sign("key", body), body)
    verify("key", sign("key", body).upper().replace("SHA256=", "sha256="), body)
    wrong = (None, "", sign("other", body), sign("key", body + b" "), "sha256=zz", "sha256=é")
    for header in wrong:
        with pytest.raises(SignatureInvalid):
            verify("key", header, body)


def test_the_stats_window_is_whole_utc_days() -> None:
    now = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
    assert window(None, None, now) == (
        datetime(2027, 1, 31, tzinfo=UTC), datetime(2027, 3, 2, tzinfo=UTC),
    )  # fmt: skip
    assert window(date(2027, 3, 1), date(2027, 3, 1), now)[1] == datetime(2027, 3, 2, tzinfo=UTC)
    for start, end in ((date(2027, 3, 2), date(2027, 3, 1)), (date(2020, 1, 1), date(2027, 1, 1))):
        with pytest.raises(Invalid):
            window(start, end, now)
