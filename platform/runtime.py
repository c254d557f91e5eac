"""How the long-running processes run their event loop.

The API runs on uvloop (uvicorn picks it); the worker and the promoter do too, where it is
installed: their work is many small round trips to MongoDB, Redis and SMTP, and uvloop's loop
and socket transports cost a fraction of asyncio's own per round trip. Profiling the worker
delivering confirmations showed a third of its CPU in asyncio's loop and socket writes, CPU
taken from the API beside it on a small machine.
"""

from __future__ import annotations

import asyncio
import gc
import os
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


def run_in_background(nice: int) -> None:
    """Lower this process's CPU priority by `nice` (the promoter and the workers): where they
    share a machine with the API, the kernel runs a client's request first and the jobs in the
    time it leaves over, instead of splitting the cores evenly. A worker delivering a
    confirmation beside the next booking took about as much CPU as that booking's request.
    Only lowering is asked for, which needs no privilege; the jobs are not starved: a niced
    process still gets its share (about a tenth at 10) when the cores are all busy."""
    if nice:
        os.nice(nice)


def freeze_startup_heap() -> None:
    """Put everything start-up made (modules, models, schemas, the app, the connections) out of
    the cyclic collector's sight: they live as long as the process. In the API a full
    collection of them took about 100 ms, a stall that came back every few seconds under load
    and was most of the webhooks' p99. Objects made later are collected as before."""
    gc.freeze()


def unfreeze_heap() -> None:
    """Undo `freeze_startup_heap` when a context closes, so a process that opens several (the
    tests) still frees what the earlier ones left in cycles."""
    gc.unfreeze()
