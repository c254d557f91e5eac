"""Which MongoDB failures mean "no usable primary right now" (503, retry later) and which are
bugs or bad data (they must not be hidden behind a 503). The failures are built as PyMongo
builds them from the server's replies seen in `tests/acceptance/test_lost_majority.py`."""

from __future__ import annotations

import pytest
from holdfast.db import unavailable
from holdfast.errors import DatabaseUnavailable
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

STEPPED_DOWN = {"code": 11602, "codeName": "InterruptedDueToReplStateChange", "errmsg": "x"}


@pytest.mark.parametrize(
    "failure",
    [
        AutoReconnect("connection reset"),
        NotPrimaryError("not primary", {"code": 10107}),
        ServerSelectionTimeoutError("no primary"),
        # A multi-document update waiting for its majority when the primary steps down.
        WriteConcernError("interrupted", 11602, STEPPED_DOWN),
        # A single-document one: the server labels it retryable.
        WriteConcernError(
            "interrupted", 11602, {**STEPPED_DOWN, "errorLabels": ["RetryableWriteError"]}
        ),
        WriteConcernError("timed out", 64, {"code": 64, "errmsg": "waiting for replication"}),
        BulkWriteError({"writeErrors": [], "writeConcernErrors": [STEPPED_DOWN]}),
        DatabaseUnavailable("The database is unavailable; please try again shortly."),
    ],
    ids=repr,
)
def test_no_primary_now_is_unavailable(failure: Exception) -> None:
    assert unavailable(failure)


@pytest.mark.parametrize(
    "failure",
    [
        DuplicateKeyError("E11000", 11000),
        OperationFailure("bad query", 2),
        BulkWriteError({"writeErrors": [{"code": 11000}], "writeConcernErrors": []}),
        ValueError("not MongoDB at all"),
    ],
    ids=repr,
)
def test_bugs_and_bad_data_are_not(failure: Exception) -> None:
    assert not unavailable(failure)
