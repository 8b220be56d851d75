"""Cleaner: deletes finished jobs (with their events) once they are older than the retention."""

from __future__ import annotations

import time
from collections.abc import Sequence

from genq.domain.states import TERMINAL, JobStatus
from genq.store.base import Store
from genq.worker.maintenance.service import Maintenance


class Cleaner(Maintenance):
    """Keeps the store small: finished jobs older than ``retention_s`` are removed."""

    name = "cleaner"

    def __init__(
        self, store: Store, retention_s: float, interval_s: float = 60.0, batch: int = 1000
    ) -> None:
        super().__init__(interval_s)
        self.store = store
        self.retention_s = retention_s
        self.batch = batch

    async def run_once(self) -> int:
        return await clean(self.store, time.time() - self.retention_s, sorted(TERMINAL), self.batch)


async def clean(
    store: Store, before: float, statuses: Sequence[JobStatus], batch: int = 1000
) -> int:
    """Delete every finished job of ``statuses`` that finished before ``before``."""
    total = 0
    while True:
        deleted = await store.delete_finished(before, statuses, batch)
        total += deleted
        if deleted < batch:
            return total
