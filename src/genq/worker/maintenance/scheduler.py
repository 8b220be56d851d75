"""Scheduler: delayed jobs whose run_at has come become ready, and their workers are woken."""

from __future__ import annotations

import time

from genq.bus.base import JOBS, Bus
from genq.store.base import Store
from genq.worker.maintenance.service import Maintenance


class Scheduler(Maintenance):
    """Promotes due delayed jobs; sleeps until the next one is due (at most ``interval_s``)."""

    name = "scheduler"

    def __init__(self, store: Store, bus: Bus, interval_s: float = 1.0, batch: int = 1000) -> None:
        super().__init__(interval_s)
        self.store = store
        self.bus = bus
        self.batch = batch
        self._full = False

    async def run_once(self) -> int:
        promoted = await self.store.promote_due(time.time(), self.batch)
        self._full = len(promoted) >= self.batch
        if promoted:
            await self.bus.publish(JOBS, sorted({queue for _, queue in promoted}))
        return len(promoted)

    async def next_wait(self) -> float:
        if self._full:
            return 0.0
        due = await self.store.next_due()
        if due is None:
            return self.interval_s
        return max(0.0, min(self.interval_s, due - time.time()))
