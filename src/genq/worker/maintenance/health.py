"""HealthChecker: asks each live remote worker that gave a ``health_url`` how it is.

The outcome (ok, HTTP status, milliseconds, error) is kept in the registry and shown by
``GET /v1/workers``; a worker whose check fails is ``unhealthy`` even while it heartbeats.
A successful check counts as hearing from the worker, which is how a callback worker with
no jobs stays ``healthy``. Workers not heard from for ``forget_s`` (an hour) are no longer
called, and those not heard from for ``retention_s`` (``GENQ_WORKER_RETENTION_S``) are
removed from the registry. Every API node checks (one small request a worker per
interval), so no node has to be elected for it.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from genq.domain.workers import RemoteWorker, checked, last_heard
from genq.store.base import Store
from genq.worker.maintenance.service import Maintenance


class HealthChecker(Maintenance):
    """Checks remote workers' health URLs every ``interval_s``."""

    name = "worker-health"

    def __init__(
        self,
        store: Store,
        interval_s: float,
        timeout_s: float,
        forget_s: float = 3600.0,
        retention_s: float = 7 * 86400.0,
    ) -> None:
        super().__init__(interval_s)
        self.store = store
        self.timeout_s = timeout_s
        self.forget_s = forget_s
        self.retention_s = retention_s
        self._http: httpx.AsyncClient | None = None

    async def run_once(self) -> int:
        found, running = await self.store.list_workers()
        now = time.time()
        # Registry entries of workers gone for the retention (and running nothing) go: a
        # fleet whose workers restart often would otherwise grow it without end. A worker
        # that comes back registers again.
        gone = [
            w.id
            for w in found
            if now - last_heard(w.last_seen_at, w.health) > self.retention_s
            and not running.get(w.id)
        ]
        if gone:
            await self.store.delete_workers(gone)
            found = [w for w in found if w.id not in gone]
        due = [
            w
            for w in found
            if w.health_url and now - last_heard(w.last_seen_at, w.health) < self.forget_s
        ]
        if not due:
            return 0
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        await asyncio.gather(*(self._check(w) for w in due))
        return len(due)

    async def _check(self, worker: RemoteWorker) -> None:
        assert self._http is not None
        assert worker.health_url is not None
        started = time.perf_counter()
        try:
            response = await self._http.get(worker.health_url)
        except httpx.HTTPError as exc:
            ms = round((time.perf_counter() - started) * 1000)
            doc = checked(False, time.time(), ms, None, type(exc).__name__)
        else:
            ms = round((time.perf_counter() - started) * 1000)
            ok = response.is_success
            doc = checked(ok, time.time(), ms, response.status_code, None if ok else "not 2xx")
        await self.store.set_worker_health(worker.id, doc)

    async def stop(self) -> None:
        await super().stop()
        if self._http is not None:
            await self._http.aclose()
