"""Remote workers (seed 004): machines anywhere that claim jobs of named queues over HTTP.

A worker registers (name, queues, capabilities, max concurrency, optional health URL),
then claims with a long poll, reports progress, log and step events, renews its leases by
heartbeat (which carries cancel requests back) and completes or fails each job. Its leases
are held under ``remote:{worker id}``, so everything the in-process workers guarantee
holds: a write whose lease is gone is refused, and a worker that vanishes loses its leases
to the reaper and its jobs run again elsewhere. Outcomes are computed here, with the job
type's retry policy, never taken from the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from genq.blobs import BlobStore, StoredBlob, job_prefix
from genq.bus.base import EVENTS, JOBS, SCHEDULE, Bus
from genq.domain import outcomes
from genq.domain.errors import Forbidden, GenqError, InvalidRequest, Unauthorized
from genq.domain.events import Event, EventType
from genq.domain.job import Job
from genq.domain.retry import RetryPolicy
from genq.domain.states import Action, JobStatus
from genq.domain.workers import (
    RESERVED_EVENTS,
    RemoteWorker,
    attempt_signature,
    callback_secret,
    valid_attempt_signature,
)
from genq.store.base import AttemptWrite, LeaseState, Store
from genq.worker.registry import Registry

MAX_WAIT_S = 30.0


class WorkerNotFound(GenqError):
    """No registered worker with this id belongs to the caller."""

    code, status, title = "WORKER_NOT_FOUND", 404, "Worker not found"


class LeaseLost(GenqError):
    """The worker no longer holds this attempt's lease (it expired, or the job ended)."""

    code, status, title = "LEASE_LOST", 409, "Lease lost"


def _event_values(events: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The job columns a batch of reported events moves: progress, message, step."""
    values: dict[str, Any] = {}
    for kind, data in events:
        pct = data.get("progress")
        if kind == EventType.STEP_PROGRESS and isinstance(pct, int | float) and math.isfinite(pct):
            values["progress"] = max(0, min(100, round(pct)))
        if kind in (EventType.STEP_STARTED, EventType.STEP_PROGRESS) and data.get("step"):
            values["step"] = str(data["step"])[:200]
        if isinstance(data.get("message"), str) and kind != EventType.LOG:
            values["message"] = data["message"][:2000]
    return values


@dataclass(slots=True)
class BatchWrite:
    """One write of a batch: events of a running attempt and, if it ends, how."""

    job_id: str
    attempt: int
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    end: str | None = None  # "complete", "fail", "cancelled" or "release"
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True


def _check_events(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for kind, _ in events:
        if kind in RESERVED_EVENTS:
            raise InvalidRequest(
                f"a worker may not write {kind!r} events; use complete or fail",
                {"field": "events"},
            )


class RemoteWorkers:
    """The server side of the remote-worker protocol."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        registry: Registry,
        blobs: BlobStore,
        lease_s: float,
        heartbeat_s: float,
        secret: Callable[[], Awaitable[str]],
    ) -> None:
        self.secret = secret  # the node's shared secret, from which callback keys derive
        self.store = store
        self.blobs = blobs
        self.bus = bus
        self.registry = registry
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s

    async def register(
        self,
        principal: str,
        name: str,
        queues: list[str],
        capabilities: list[str],
        max_concurrency: int,
        health_url: str | None = None,
        callback_url: str | None = None,
    ) -> RemoteWorker:
        """Add a worker; its id is what it acts under from now on."""
        now = time.time()
        worker = RemoteWorker(
            id=str(uuid.uuid4()),
            name=name,
            principal=principal,
            queues=queues,
            capabilities=capabilities,
            max_concurrency=max_concurrency,
            registered_at=now,
            last_seen_at=now,
            health_url=health_url,
            callback_url=callback_url,
        )
        await self.store.register_worker(worker)
        return worker

    async def worker(self, worker_id: str, principal: str) -> RemoteWorker:
        """The caller's registered worker, or 404."""
        found = await self.store.get_worker(worker_id)
        if found is None or found.principal != principal:
            raise WorkerNotFound()
        return found

    async def claim(self, worker: RemoteWorker, limit: int, wait_s: float) -> list[Job]:
        """Up to ``limit`` jobs of the worker's queues, waiting up to ``wait_s`` for one."""
        deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
        queues = set(worker.queues)
        woken = asyncio.Event()

        def on_jobs(message: Any) -> None:
            if queues.intersection(message):
                woken.set()

        unsubscribe = self.bus.subscribe(JOBS, on_jobs)
        try:
            while True:
                woken.clear()
                jobs, events = await self.store.claim_jobs(
                    worker.queues, worker.lease_owner, limit, self.lease_s
                )
                await self._publish(events)
                left = deadline - time.monotonic()
                if jobs or left <= 0:
                    await self.store.touch_worker(worker.id, time.time())
                    return jobs
                # The bus wakes us when work arrives; the timeout is the safety net.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=min(left, 1.0))
        finally:
            unsubscribe()

    async def report(
        self,
        worker: RemoteWorker,
        job_id: str,
        attempt: int,
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        """Append progress, log and step events of a running attempt."""
        _, refused = await self.write_batch(worker, [BatchWrite(job_id, attempt, events)])
        if refused:
            raise LeaseLost(details={"job_id": job_id, "attempt": attempt})

    async def heartbeat(self, worker: RemoteWorker, attempts: dict[str, int]) -> LeaseState:
        """Renew the worker's leases; say which jobs to stop (cancelled) or drop (lost)."""
        await self.store.touch_worker(worker.id, time.time())
        if not attempts:
            return LeaseState([], {}, [])
        return await self.store.renew_leases(worker.lease_owner, attempts, self.lease_s)

    async def complete(self, worker: RemoteWorker, job_id: str, attempt: int, result: Any) -> Job:
        """The attempt succeeded with ``result``."""
        return await self._end(worker, BatchWrite(job_id, attempt, end="complete", result=result))

    async def fail(
        self,
        worker: RemoteWorker,
        job_id: str,
        attempt: int,
        code: str,
        message: str,
        retryable: bool,
        details: Any = None,
    ) -> Job:
        """The attempt failed; the job type's retry policy decides what comes next."""
        error = {"code": code, "message": message, "details": details}
        item = BatchWrite(job_id, attempt, end="fail", error=error, retryable=retryable)
        return await self._end(worker, item)

    async def upload(
        self,
        worker: RemoteWorker,
        job_id: str,
        attempt: int,
        name: str,
        data: bytes,
        content_type: str,
    ) -> StoredBlob:
        """Store an output file of a running attempt in the job's folder."""
        await self._running(worker, job_id, attempt)
        return await self.blobs.put(f"{job_prefix(job_id)}{name}", data, content_type)

    async def cancelled(self, worker: RemoteWorker, job_id: str, attempt: int) -> Job:
        """The worker stopped the attempt because a cancel was requested."""
        return await self._end(worker, BatchWrite(job_id, attempt, end="cancelled"))

    async def write_batch(
        self, worker: RemoteWorker, batch: Sequence[BatchWrite]
    ) -> tuple[list[str], dict[str, str]]:
        """Many attempts' events and endings in one transaction (a worker's group commit).

        Applied in order; each ending is computed here as by :meth:`complete`,
        :meth:`fail`, :meth:`cancelled` and :meth:`release`. Returns the jobs written to
        and, for the others, why not (``LEASE_LOST``, or ``NOT_CANCELLED`` for a
        ``cancelled`` no client asked for)."""
        for item in batch:
            _check_events(item.events)
        jobs = await self.store.get_jobs(list(dict.fromkeys(item.job_id for item in batch)))
        now = time.time()
        writes: list[AttemptWrite] = []
        refused: dict[str, str] = {}
        for item in batch:
            job = jobs.get(item.job_id)
            if (
                job is None
                or job.status != JobStatus.RUNNING
                or job.lease_owner != worker.lease_owner
                or job.attempts != item.attempt
            ):
                refused[item.job_id] = "LEASE_LOST"
                continue
            values = _event_values(item.events)
            job.step = values.get("step", job.step)
            events = list(item.events)
            action = None
            if item.end is not None:
                ending = self._ending(job, item, now)
                if ending is None:
                    refused[item.job_id] = "NOT_CANCELLED"
                    continue
                action, end_values, end_events = ending
                values.update(end_values)
                events += end_events
            writes.append(
                AttemptWrite(job.id, worker.lease_owner, item.attempt, action, values, events)
            )
        written = await self.store.record_attempts(writes)
        await self._publish(written)
        done = {e.job_id for e in written}
        requeued: set[str] = set()
        for w in writes:
            if w.job_id not in done:
                refused[w.job_id] = "LEASE_LOST"
            elif w.action == Action.BACKOFF:
                await self.bus.publish(SCHEDULE, w.values["run_at"])
            elif w.action == Action.REQUEUE:
                requeued.add(jobs[w.job_id].queue)
        if requeued:
            await self.bus.publish(JOBS, sorted(requeued))
        return sorted(done), refused

    def _ending(self, job: Job, item: BatchWrite, now: float) -> outcomes.Outcome | None:
        if item.end == "complete":
            return outcomes.completed(job, item.result, now)
        if item.end == "release":
            return outcomes.interrupted(job, "released", now)
        if item.end == "cancelled":
            return outcomes.aborted(job, now) if job.cancel_requested_at is not None else None
        job_type = self.registry.get(job.type)
        policy = job_type.retry if job_type else RetryPolicy()
        err = item.error or {"code": "WORKER_ERROR", "message": "the worker reported a failure"}
        error = outcomes.error_doc(err["code"], err["message"], err.get("details"))
        return outcomes.failed(job, error, item.retryable, policy, now)

    async def release(self, worker: RemoteWorker, job_id: str, attempt: int) -> Job:
        """The worker gives the job back unfinished (it is shutting down): the job is ready
        again at once and the attempt is not counted."""
        return await self._end(worker, BatchWrite(job_id, attempt, end="release"))

    async def _end(self, worker: RemoteWorker, item: BatchWrite) -> Job:
        """Apply one ending; the job as it now stands."""
        _, refused = await self.write_batch(worker, [item])
        if refused.get(item.job_id) == "NOT_CANCELLED":
            raise Forbidden("no cancel was requested for this job")
        if refused:
            raise LeaseLost(details={"job_id": item.job_id, "attempt": item.attempt})
        job = await self.store.get_job(item.job_id)
        assert job is not None
        return job

    # --- callback mode --------------------------------------------------------------------

    async def callback_secret(self, worker: RemoteWorker) -> str:
        """The secret this worker checks genq's pushes with."""
        return callback_secret(await self.secret(), worker.id)

    async def attempt_signature(self, worker: RemoteWorker, job: Job) -> str:
        """The credential of a pushed attempt's callback URL."""
        return attempt_signature(await self.secret(), worker.id, job.id, job.attempts)

    async def signed(self, worker_id: str, job_id: str, attempt: int, sig: str) -> RemoteWorker:
        """The worker a signed callback URL names, if its signature holds (401 otherwise)."""
        if not valid_attempt_signature(await self.secret(), worker_id, job_id, attempt, sig):
            raise Unauthorized("the callback signature does not match this job and attempt")
        found = await self.store.get_worker(worker_id)
        if found is None:
            raise WorkerNotFound()
        return found

    async def callback(
        self,
        worker: RemoteWorker,
        job_id: str,
        attempt: int,
        state: str,
        events: list[tuple[str, dict[str, Any]]],
        result: Any = None,
        error: dict[str, Any] | None = None,
        retryable: bool = True,
    ) -> tuple[Job | None, bool]:
        """A callback worker's report: ``processing`` (events; renews the lease) or the
        attempt's end. Returns the finished job, or None and whether to cancel."""
        await self.store.touch_worker(worker.id, time.time())
        if state == "processing":
            if events:
                await self.report(worker, job_id, attempt, events)
            leases = await self.store.renew_leases(
                worker.lease_owner, {job_id: attempt}, self.lease_s
            )
            if job_id in leases.lost:
                raise LeaseLost(details={"job_id": job_id, "attempt": attempt})
            return None, job_id in leases.cancel_requested
        if events:
            await self.report(worker, job_id, attempt, events)
        if state == "completed":
            return await self.complete(worker, job_id, attempt, result), False
        if state == "cancelled":
            return await self.cancelled(worker, job_id, attempt), False
        err = error or {"code": "WORKER_ERROR", "message": "the worker reported a failure"}
        job = await self.fail(
            worker, job_id, attempt, err["code"], err["message"], retryable, err.get("details")
        )
        return job, False

    async def _running(self, worker: RemoteWorker, job_id: str, attempt: int) -> Job:
        job = await self.store.get_job(job_id)
        if (
            job is None
            or job.status != JobStatus.RUNNING
            or job.lease_owner != worker.lease_owner
            or job.attempts != attempt
        ):
            raise LeaseLost(details={"job_id": job_id, "attempt": attempt})
        return job

    async def _publish(self, events: list[Event]) -> None:
        if events:
            await self.bus.publish(EVENTS, events)
