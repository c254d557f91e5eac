"""Fixtures for the acceptance tests that need servers of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from holdfast.embedded import FAST_ELECTIONS, ReplicaSet, start_replica_set


@pytest.fixture
def replica_set(tmp_path: Path) -> Iterator[ReplicaSet]:
    members = start_replica_set(tmp_path / "rs", settings=FAST_ELECTIONS)
    yield members
    members.kill_all()
