"""Reaper: jobs whose worker stopped renewing its lease go back to their queue (or end)."""

from __future__ import annotations

import time

from genq.bus.base import EVENTS, JOBS, Bus
from genq.domain import outcomes
from genq.domain.errors import StoreUnavailable
from genq.domain.states import Action
from genq.store.base import AttemptWrite, Store
from genq.worker.maintenance.service import Maintenance


class Reaper(Maintenance):
    """Finds expired leases; each counts an attempt: requeue, fail, or cancel if asked to.

    While the database is away no worker can renew a lease, so leases run out through no
    fault of their workers. After the reaper finds the database away it waits one lease
    period (``lease_s``) before reaping again: workers renew, and write the outcomes they
    held back, first.
    """

    name = "reaper"

    def __init__(
        self,
        store: Store,
        bus: Bus,
        interval_s: float = 5.0,
        batch: int = 500,
        lease_s: float = 30.0,
    ) -> None:
        super().__init__(interval_s)
        self.store = store
        self.bus = bus
        self.batch = batch
        self.lease_s = lease_s
        self._quiet_until = 0.0

    async def run_once(self) -> int:
        now = time.time()
        if now < self._quiet_until:
            return 0
        try:
            expired = await self.store.expired_attempts(now, self.batch)
        except StoreUnavailable:
            self._quiet_until = time.time() + self.lease_s
            raise
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
