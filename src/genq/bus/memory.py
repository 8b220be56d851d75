"""In-process bus: for the embedded shape, where API and workers share one process."""

from __future__ import annotations

from typing import Any

from genq.bus.base import Bus


class MemoryBus(Bus):
    """Delivers each message to this process's handlers, synchronously and in order."""

    async def publish(self, channel: str, message: Any) -> None:
        self._deliver(channel, message)
