"""Reaper: jobs whose worker stopped renewing its lease go back to their queue (or end)."""

from __future__ import annotations

import time

from genq.bus.base import EVENTS, JOBS, Bus
from genq.domain import outcomes
from genq.domain.states import Action
from genq.store.base import AttemptWrite, Store
from genq.worker.maintenance.service import Maintenance


class Reaper(Maintenance):
    """Finds expired leases; each counts an attempt: requeue, fail, or cancel if asked to."""

    name = "reaper"

    def __init__(self, store: Store, bus: Bus, interval_s: float = 5.0, batch: int = 500) -> None:
        super().__init__(interval_s)
        self.store = store
        self.bus = bus
        self.batch = batch

    async def run_once(self) -> int:
        now = time.time()
        expired = await self.store.expired_attempts(now, self.batch)
        if not expired:
            return 0
        writes = []
        for job in expired:
            action, values, events = outcomes.lease_expired(job, now)
            values["_expired_before"] = now
            writes.append(
                AttemptWrite(job.id, job.lease_owner or "", job.attempts, action, values, events)
            )
        written = await self.store.record_attempts(writes)
        if written:
            await self.bus.publish(EVENTS, written)
        done = {e.job_id for e in written}
        requeued = {
            j.queue
            for j, w in zip(expired, writes, strict=True)
            if w.action == Action.REQUEUE and j.id in done
        }
        if requeued:
            await self.bus.publish(JOBS, sorted(requeued))
        return len(done)
