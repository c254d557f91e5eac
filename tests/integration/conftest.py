from __future__ import annotations

import httpx
import pytest
from holdfast.context import Context

from tests.support import Practice, build_practice


@pytest.fixture
async def practice(client: httpx.AsyncClient, ctx: Context) -> Practice:
    return await build_practice(client, ctx)
