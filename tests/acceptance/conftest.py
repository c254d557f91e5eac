"""Fixtures for the acceptance tests that need servers of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from holdfast.embedded import (
    FAST_ELECTIONS,
    ReplicaSet,
    Server,
    free_port,
    start_redis,
    start_replica_set,
)


@pytest.fixture
def replica_set(tmp_path: Path) -> Iterator[ReplicaSet]:
    members = start_replica_set(tmp_path / "rs", settings=FAST_ELECTIONS)
    yield members
    members.kill_all()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Server]:
    """A queue redis of the test's own, to stop, kill or restart while the processes run."""
    server = start_redis(tmp_path / "queue", free_port(), persist=False)
    yield server
    server.kill()
