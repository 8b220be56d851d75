"""Submitting, reading, cancelling and retrying jobs; queue statistics and cleaning."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from genq.blobs import BlobStore
from genq.bus.base import CONTROL, EVENTS, JOBS, SCHEDULE, Bus
from genq.domain.auth import Role
from genq.domain.errors import GenqError, InvalidRequest, JobNotFound
from genq.domain.events import Event, iso
from genq.domain.ids import is_uuid, uuid7
from genq.domain.job import Job
from genq.domain.states import JobStatus
from genq.domain.stats import summary_ms
from genq.service.credits import CreditService
from genq.store.base import (
    Idempotency,
    JobQuery,
    NewJob,
    Quota,
    Render,
    Store,
    StoredResponse,
    Submitted,
)
from genq.worker.maintenance.cleaner import clean
from genq.worker.registry import Registry

STATS_WINDOW_S = 300.0
STATS_SAMPLE_LIMIT = 20_000


@dataclass(slots=True)
class SubmitRequest:
    """One job as a client asks for it (already shape-checked by the caller)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int = 0
    dedupe_key: str | None = None
    delay_s: float | None = None
    run_at: float | None = None
    max_attempts: int | None = None


class JobService:
    """Every job operation a client can ask for, with the events it causes published."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        registry: Registry,
        credits: CreditService | None = None,
        max_active: dict[str, int] | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.bus = bus
        self.registry = registry
        self.credits = credits
        self.max_active = max_active or {}

    def cost(self, job_type: str, role: Role | None) -> int:
        """What a job of this type costs its owner: users pay, when credits are on."""
        if role is not Role.USER or self.credits is None:
            return 0
        return self.credits.cost(job_type)

    async def prepare(
        self, owner: str, req: SubmitRequest, now: float, role: Role | None = None
    ) -> NewJob:
        """Check a request against the registry (and the job type's submission check) and
        turn it into a job to insert."""
        job_type = self.registry.require(req.type)
        parsed = job_type.parse(req.params)  # raises InvalidRequest naming each bad field
        dedupe_key = req.dedupe_key
        if job_type.admit is not None:
            default_key = await job_type.admit(self.store, owner, parsed)
            dedupe_key = dedupe_key if dedupe_key is not None else default_key
        run_at = now
        if req.run_at is not None:
            run_at = max(now, req.run_at)
        elif req.delay_s:
            run_at = now + req.delay_s
        return NewJob(
            id=uuid7(),
            type=req.type,
            queue=req.queue or job_type.queue,
            owner=owner,
            params=req.params,
            max_attempts=req.max_attempts or job_type.max_attempts,
            run_at=run_at,
            created_at=now,
            priority=req.priority,
            dedupe_key=dedupe_key,
            cost=self.cost(req.type, role),
        )

    async def submit(
        self,
        owner: str,
        requests: Sequence[SubmitRequest],
        idempotency: Idempotency | None = None,
        render: Render | None = None,
        role: Role | None = None,
    ) -> tuple[list[Submitted], StoredResponse | None]:
        """Insert jobs, all or nothing; with ``idempotency``, a repeat returns the first answer.

        ``role`` is the submitter's: it decides what the jobs cost and how many active jobs
        the owner may hold (None: an internal caller, neither charged nor capped).
        """
        now = time.time()
        new_jobs = []
        errors: list[dict[str, Any]] = []
        for index, req in enumerate(requests):
            try:
                new_jobs.append(await self.prepare(owner, req, now, role))
            except GenqError as exc:
                if len(requests) == 1 or exc.status >= 500:
                    raise
                errors.append(
                    {
                        "index": index,
                        "code": exc.code,
                        "message": exc.message,
                        "details": exc.details,
                    }
                )
        if errors:
            raise InvalidRequest(
                f"{len(errors)} of {len(requests)} jobs are invalid", {"jobs": errors}
            )
        cap = self.max_active.get(role.value) if role is not None else None
        quota = Quota(max_active=cap) if cap is not None else None
        results, events, stored = await self.store.submit_jobs(new_jobs, idempotency, render, quota)
        await self._publish(events)
        created = [s.job for s in results if s.created]
        ready = sorted({j.queue for j in created if j.status == JobStatus.QUEUED})
        if ready:
            await self.bus.publish(JOBS, ready)
            # Let a worker in this process start its claim before the caller goes on to
            # render its response: the job starts sooner, the response is no later.
            await asyncio.sleep(0)
        delayed = [j.run_at for j in created if j.status == JobStatus.DELAYED]
        if delayed:
            await self.bus.publish(SCHEDULE, min(delayed))
        return results, stored

    async def get(self, job_id: str, owner: str | None = None) -> Job:
        """A job the caller may see (``owner`` None: any job)."""
        job = await self.store.get_job(job_id) if is_uuid(job_id) else None
        if job is None or (owner is not None and job.owner != owner):
            raise JobNotFound(f"no job with id {job_id}")
        return job

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        """Jobs matching ``query``, newest first."""
        return await self.store.list_jobs(query)

    async def cancel(self, job_id: str, reason: str | None, owner: str | None = None) -> Job:
        """Cancel a job that has not started, or ask a running one to stop."""
        await self.get(job_id, owner)
        job, events = await self.store.cancel_job(job_id, reason)
        await self._publish(events)
        if job.status == JobStatus.RUNNING:
            await self.bus.publish(CONTROL, {"cancel": {job.id: job.cancel_reason}})
        return job

    async def retry(self, job_id: str, owner: str | None = None, role: Role | None = None) -> Job:
        """Run a failed or cancelled job again, with a fresh allowance of attempts.

        A user pays the job's cost again if it was refunded.
        """
        current = await self.get(job_id, owner)
        job_type = self.registry.get(current.type)
        extra = job_type.max_attempts if job_type else 1
        job, events = await self.store.retry_job(job_id, extra, self.cost(current.type, role))
        await self._publish(events)
        await self.bus.publish(JOBS, [job.queue])
        return job

    async def queue_stats(self, owner: str | None = None) -> dict[str, Any]:
        """Per queue: counts by state, and throughput and wait/run percentiles over 5 minutes."""
        now = time.time()
        counts = await self.store.count_jobs(owner)
        samples = await self.store.finished_since(now - STATS_WINDOW_S, owner, STATS_SAMPLE_LIMIT)
        names = sorted({q for q, _, _, _ in counts} | {s.queue for s in samples})
        out = []
        for name in names:
            by_state = {s.value: 0 for s in JobStatus}
            for q, _, status, n in counts:
                if q == name:
                    by_state[status] = by_state.get(status, 0) + n
            mine = [s for s in samples if s.queue == name]
            out.append(
                {
                    "name": name,
                    "counts": by_state,
                    "total": sum(by_state.values()),
                    "window_s": STATS_WINDOW_S,
                    "finished_in_window": len(mine),
                    "throughput_per_s": round(len(mine) / STATS_WINDOW_S, 3),
                    "wait_ms": summary_ms([s.wait_s for s in mine]),
                    "run_ms": summary_ms([s.run_s for s in mine]),
                }
            )
        return {"queues": out, "timestamp": iso(now)}

    async def clean(self, grace_s: float, statuses: Sequence[JobStatus]) -> int:
        """Delete finished jobs of ``statuses`` that finished more than ``grace_s`` ago."""
        return await clean(self.store, time.time() - grace_s, statuses, blobs=self.blobs)

    async def _publish(self, events: list[Event]) -> None:
        if events:
            await self.bus.publish(EVENTS, events)
