"""A receiver for Holdfast's alert webhook: records each POST (headers and JSON body)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes import LoopbackHttp


class AlertReceiver(LoopbackHttp):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, str], bytes]] = []

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.received.append(({k.lower(): v for k, v in headers.items()}, body))
        return 200, {"ok": True}

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]
