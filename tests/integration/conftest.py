from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from holdfast.context import Context
from pymongo import MongoClient

from tests.conftest import Services
from tests.fakes.google import FakeGoogle
from tests.fakes.zoom import FakeZoom
from tests.support import Practice, build_practice

# What a replica-set step-down answers a write with (NotWritablePrimary); pymongo raises it as
# a ConnectionFailure, as it does a lost connection.
STEP_DOWN: dict[str, Any] = {"errorCode": 10107}
# A commit that did happen but answers that its write concern timed out: the driver labels it
# UnknownTransactionCommitResult and the transaction is run again.
WRITE_CONCERN_TIMEOUT: dict[str, Any] = {
    "code": 64,
    "codeName": "WriteConcernFailed",
    "errmsg": "waiting for replication timed out",
    "errInfo": {"wtimeout": True},
}

FailCommands = Callable[..., None]


@pytest.fixture
async def practice(client: httpx.AsyncClient, ctx: Context) -> Practice:
    return await build_practice(client, ctx)


@pytest.fixture
def fail_commands(services: Services) -> Iterator[FailCommands]:
    """Make the real mongod fail its next `times` commands of the given names, as a real
    deployment would (`failCommand`: an error code, a closed connection, a blocked reply, a
    write-concern error on a commit that did happen). Switched off after the test."""
    admin: MongoClient[dict[str, Any]] = MongoClient(
        services.mongo_url("admin"), serverSelectionTimeoutMS=5000
    )

    def fail(commands: list[str], *, times: int = 1, **data: Any) -> None:
        admin.admin.command(
            {
                "configureFailPoint": "failCommand",
                "mode": {"times": times},
                "data": {"failCommands": commands, **data},
            }
        )

    try:
        yield fail
    finally:
        admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        admin.close()


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """A fake Google on loopback; a module points Holdfast at it with `google.settings()`."""
    fake = FakeGoogle().start()
    yield fake
    fake.stop()


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    """A fake Zoom on loopback; a module points Holdfast at it with `zoom.settings()`."""
    fake = FakeZoom().start()
    yield fake
    fake.stop()
