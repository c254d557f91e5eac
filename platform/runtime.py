"""How the long-running processes run their event loop.

The API runs on uvloop (uvicorn picks it); the worker and the promoter do too, where it is
installed: their work is many small round trips to MongoDB, Redis and SMTP, and uvloop's loop
and socket transports cost a fraction of asyncio's own per round trip. Profiling the worker
delivering confirmations showed a third of its CPU in asyncio's loop and socket writes, CPU
taken from the API beside it on a small machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency wherever it builds
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)
