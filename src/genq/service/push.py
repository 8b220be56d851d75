"""Callback mode: genq pushes jobs to workers that cannot long-poll (docs/workers.md).

A worker registered with a ``callback_url`` gets each job of its queues POSTed there, up to
its ``max_concurrency`` at a time. The push is signed (``X-Genq-Signature``, an HMAC under
the worker's callback secret) and carries a signed callback URL for that one attempt, so
the worker needs no API key to report back. A 2xx answer means the worker took the job;
anything else, or no answer, gives the job back at once (the attempt is not counted) and
pushes to that worker pause, doubling from ``retry_initial_s`` up to ``retry_max_s``.

Every API node pushes. Claims are atomic, so no job is pushed twice; with several nodes a
worker can briefly get a job or two beyond its ``max_concurrency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import orjson

from genq.bus.base import EVENTS
from genq.domain.job import Job
from genq.domain.workers import SIGNATURE_HEADER, RemoteWorker, sign_push
from genq.service.remote import LeaseLost, RemoteWorkers
from genq.worker.maintenance.service import Maintenance

log = logging.getLogger("genq.push")


class Pusher(Maintenance):
    """Pushes ready jobs to callback workers; woken by new work, else every ``interval_s``."""

    name = "worker-push"

    def __init__(
        self,
        remote: RemoteWorkers,
        interval_s: float,
        timeout_s: float = 10.0,
        public_url: str | None = None,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        refresh_s: float = 5.0,
    ) -> None:
        super().__init__(interval_s)
        self.refresh_s = refresh_s
        self._queues: set[str] = set()  # the queues callback workers serve, as last read
        self._listed_at = float("-inf")
        self.remote = remote
        self.timeout_s = timeout_s
        self.public_url = (public_url or "").rstrip("/")
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._paused: dict[str, tuple[float, float]] = {}  # worker id -> (until, last pause)
        self._http: httpx.AsyncClient | None = None

    def wake(self, queues: Any) -> None:
        """New work in ``queues``: push soon if some callback worker serves one of them."""
        if self._queues.intersection(queues):
            self.poke()

    def forget_workers(self) -> None:
        """Read the registry afresh on the next run (a worker registered)."""
        self._listed_at = float("-inf")

    async def run_once(self) -> int:
        store = self.remote.store
        now = time.monotonic()
        # The registry is read at most every refresh_s while no callback worker exists, so
        # nodes without any pay nothing per submitted job.
        if not self._queues and now - self._listed_at < self.refresh_s:
            return 0
        found, running = await store.list_workers()
        self._listed_at = now
        callback = [w for w in found if w.callback_url]
        self._queues = {q for w in callback for q in w.queues}
        targets = [w for w in callback if self._paused.get(w.id, (0.0, 0.0))[0] <= now]
        pushed = 0
        for worker in targets:
            free = worker.max_concurrency - running.get(worker.id, 0)
            if free <= 0:
                continue
            jobs, events = await store.claim_jobs(
                worker.queues, worker.lease_owner, free, self.remote.lease_s
            )
            if events:
                await self.remote.bus.publish(EVENTS, events)
            if jobs:
                taken = await asyncio.gather(*(self._push(worker, job) for job in jobs))
                pushed += sum(taken)
        return pushed

    async def body(self, worker: RemoteWorker, job: Job) -> dict[str, Any]:
        """What a push carries: the job, and where and how to report on this attempt."""
        sig = await self.remote.attempt_signature(worker, job)
        path = f"/v1/workers/{worker.id}/jobs/{job.id}/callback?attempt={job.attempts}&sig={sig}"
        return {
            "job": job.to_dict(),
            "attempt": job.attempts,
            "worker": worker.id,
            "leaseSeconds": self.remote.lease_s,
            "callbackUrl": f"{self.public_url}{path}",
        }

    async def _push(self, worker: RemoteWorker, job: Job) -> bool:
        assert worker.callback_url is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        content = orjson.dumps(await self.body(worker, job))
        signature = sign_push(await self.remote.callback_secret(worker), int(time.time()), content)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        started = time.perf_counter()
        try:
            response = await self._http.post(worker.callback_url, content=content, headers=headers)
            refused = None if response.is_success else f"answered {response.status_code}"
        except httpx.HTTPError as exc:
            refused = type(exc).__name__
        ms = round((time.perf_counter() - started) * 1000)
        if refused is None:
            self._paused.pop(worker.id, None)
            await self.remote.store.touch_worker(worker.id, time.time())
            log.info("pushed job %s to worker %s in %d ms", job.id, worker.name, ms)
            return True
        _, last = self._paused.get(worker.id, (0.0, 0.0))
        pause = min(self.retry_max_s, max(self.retry_initial_s, last * 2))
        self._paused[worker.id] = (time.monotonic() + pause, pause)
        log.warning(
            "push of job %s to worker %s failed (%s); pausing pushes for %.1fs",
            job.id,
            worker.name,
            refused,
            pause,
        )
        # LeaseLost: the worker reported on it after all, or the job ended meanwhile.
        with contextlib.suppress(LeaseLost):
            await self.remote.release(worker, job.id, job.attempts)
        return False

    async def stop(self) -> None:
        await super().stop()
        if self._http is not None:
            await self._http.aclose()
