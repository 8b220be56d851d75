"""Cleaner: deletes finished jobs (with their events) once they are older than the retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from genq.blobs import BlobStore, job_prefix
from genq.domain.states import TERMINAL, JobStatus
from genq.store.base import Store
from genq.worker.maintenance.service import Maintenance

log = logging.getLogger("genq.cleaner")


class Cleaner(Maintenance):
    """Keeps the store small: finished jobs older than ``retention_s`` are removed."""

    name = "cleaner"

    def __init__(
        self,
        store: Store,
        retention_s: float,
        interval_s: float = 60.0,
        batch: int = 1000,
        blobs: BlobStore | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.store = store
        self.blobs = blobs
        self.retention_s = retention_s
        self.batch = batch

    async def run_once(self) -> int:
        before = time.time() - self.retention_s
        return await clean(self.store, before, sorted(TERMINAL), self.batch, self.blobs)


async def clean(
    store: Store,
    before: float,
    statuses: Sequence[JobStatus],
    batch: int = 1000,
    blobs: BlobStore | None = None,
) -> int:
    """Delete every finished job of ``statuses`` that finished before ``before``, with its
    events and (given the blob store) its files."""
    total = 0
    while True:
        deleted = await store.delete_finished(before, statuses, batch)
        total += len(deleted)
        if blobs is not None:
            for job_id in deleted:
                try:
                    await blobs.delete_prefix(job_prefix(job_id))
                except Exception as exc:  # the job is gone; its files are only garbage now
                    log.warning("job %s: could not delete its files: %s", job_id, exc)
        if len(deleted) < batch:
            return total
