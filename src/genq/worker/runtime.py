"""The worker: claims jobs of its queues, runs their handlers, holds their leases.

Woken by the bus when work arrives (a slow poll is only the safety net); renews leases by
heartbeat, which also carries cancel requests back; on stop, lets running jobs finish within
a grace period and returns the rest to their queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from genq.bus.base import CONTROL, EVENTS, JOBS, SCHEDULE, Bus
from genq.domain import outcomes
from genq.domain.errors import GenqError, JobError, StoreUnavailable
from genq.domain.events import Event
from genq.domain.job import Job
from genq.domain.retry import RetryPolicy
from genq.domain.states import Action
from genq.store.base import AttemptStore
from genq.worker.context import JobContext
from genq.worker.registry import Registry
from genq.worker.writer import AttemptWriter

if TYPE_CHECKING:
    from genq.blobs import BlobStore
    from genq.providers import Providers

log = logging.getLogger("genq.worker")


@dataclass(slots=True)
class WorkerConfig:
    """How a worker runs; defaults match :class:`genq.settings.Settings`."""

    queues: Sequence[str] = ("default",)
    concurrency: int = 20
    claim_batch: int = 100
    lease_s: float = 30.0
    heartbeat_s: float = 10.0
    poll_s: float = 1.0
    progress_interval_s: float = 0.1
    flush_interval_s: float = 0.0
    shutdown_grace_s: float = 30.0


@dataclass(slots=True)
class _Running:
    ctx: JobContext
    task: asyncio.Task[None]
    stop_reason: str | None = None  # "cancel", "shutdown" or "lost" once the task is cancelled
    started: bool = False  # a task cancelled before it starts runs none of its code


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def worker_name() -> str:
    """A name unique to this worker instance: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs registered handlers for jobs of the configured queues."""

    def __init__(
        self,
        store: AttemptStore,
        bus: Bus,
        registry: Registry,
        config: WorkerConfig | None = None,
        name: str | None = None,
        providers: Providers | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.store = store
        self.providers = providers
        self.blobs = blobs
        self.bus = bus
        self.registry = registry
        self.config = config or WorkerConfig()
        self.name = name or worker_name()
        self.writer = AttemptWriter(
            store,
            self._publish_events,
            self.config.progress_interval_s,
            self.config.flush_interval_s,
        )
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._slot_free = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Any] = []
        self.completed = 0

    @property
    def active(self) -> int:
        """How many attempts this worker is running."""
        return len(self._running)

    async def start(self) -> None:
        """Subscribe to wake-ups and start claiming."""
        queues = set(self.config.queues)

        def on_jobs(message: Any) -> None:
            if queues.intersection(message):
                self._wake_up()

        def on_control(message: Any) -> None:
            for job_id, reason in message.get("cancel", {}).items():
                self._stop_job(job_id, "cancel", reason)

        self._unsubscribe = [
            self.bus.subscribe(JOBS, on_jobs),
            self.bus.subscribe(CONTROL, on_control),
        ]
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name=f"genq-claim-{self.name}"),
            asyncio.create_task(self._heartbeat_loop(), name=f"genq-heartbeat-{self.name}"),
        ]

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop claiming; let running jobs finish within the grace, then return the rest."""
        self._stopping = True
        self._wake_up()
        self._slot_free.set()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        claim = self._tasks[0] if self._tasks else None
        if claim is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await claim
        tasks = [r.task for r in self._running.values()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for job_id, running in list(self._running.items()):
                if running.task in late:
                    self._stop_job(job_id, "shutdown")
            if late:
                await asyncio.wait(late, timeout=max(grace, 5.0))
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    async def _publish_events(self, events: list[Event]) -> None:
        await self.bus.publish(EVENTS, events)

    # --- claiming --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        backoff = 0.1
        while not self._stopping:
            free = self.config.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            want = min(free, self.config.claim_batch)
            self._wake.clear()
            try:
                jobs, events = await self.store.claim_jobs(
                    self.config.queues, self.name, want, self.config.lease_s
                )
            except StoreUnavailable:
                log.warning("store unavailable; claiming again in %.1fs", backoff)
                await self._sleep_or_wake(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("claiming failed")
                await self._sleep_or_wake(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            for job in jobs:
                self._spawn(job)
            if events:
                await self._publish_events(events)
            if len(jobs) < want:
                await self._sleep_or_wake(self.config.poll_s)

    async def _sleep_or_wake(self, timeout: float) -> None:
        # A bare future and a timer: woken in one loop turn (wait_for would add a task).
        if self._wake.is_set():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _wake_up(self) -> None:
        self._wake.set()
        if self._waiter is not None:
            _resolve(self._waiter)

    def _spawn(self, job: Job) -> None:
        ctx = JobContext(job, self.writer, self.name, self.providers, self.blobs)
        task = asyncio.create_task(self._run(ctx), name=f"genq-job-{job.id}")
        self._running[job.id] = _Running(ctx, task)

    def _stop_job(self, job_id: str, reason: str, cancel_reason: str | None = None) -> None:
        running = self._running.get(job_id)
        if running is None or running.stop_reason is not None:
            return
        running.stop_reason = reason
        if reason == "cancel":
            running.ctx.job.cancel_reason = cancel_reason
            running.ctx.request_cancel()
        if running.started:
            running.task.cancel()
        # Otherwise _run sees the stop reason as it starts, and writes the outcome.

    # --- running ---------------------------------------------------------------------------

    async def _run(self, ctx: JobContext) -> None:
        job = ctx.job
        try:
            running = self._running[job.id]
            running.started = True
            if running.stop_reason is not None:
                outcome = self._stopped(ctx, running.stop_reason)
            else:
                outcome = await self._attempt(ctx)
            if outcome is not None:
                action, values, events = outcome
                written = await self.writer.finish(ctx, action, values, events)
                self.completed += 1
                if written and action == Action.BACKOFF:
                    await self.bus.publish(SCHEDULE, values["run_at"])
                elif written and action == Action.REQUEUE:
                    await self.bus.publish(JOBS, [job.queue])
        except Exception:
            log.exception("job %s: recording its outcome failed", job.id)
        finally:
            self._running.pop(job.id, None)
            self._slot_free.set()

    async def _attempt(self, ctx: JobContext) -> outcomes.Outcome | None:
        """Run the handler; return what to write, or None when the lease is gone."""
        job = ctx.job
        job_type = self.registry.get(job.type)
        policy = job_type.retry if job_type else RetryPolicy()
        try:
            if job_type is None:
                raise JobError(
                    f"no handler for job type {job.type!r} in this worker",
                    code="UNKNOWN_JOB_TYPE",
                    retryable=False,
                )
            params = job_type.parse(job.params)
            if job_type.timeout_s is not None:
                async with asyncio.timeout(job_type.timeout_s):
                    result = await job_type.handler(ctx, params)
            else:
                result = await job_type.handler(ctx, params)
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            return outcomes.completed(job, result, time.time())
        except asyncio.CancelledError:
            reason = self._running[job.id].stop_reason if job.id in self._running else None
            if reason is None:
                raise
            return self._stopped(ctx, reason)
        except TimeoutError:
            error = outcomes.error_doc(
                "TIMEOUT", f"the attempt took longer than {job_type.timeout_s if job_type else 0}s"
            )
            return outcomes.failed(job, error, True, policy, time.time())
        except JobError as exc:
            error = outcomes.error_doc(exc.code, str(exc), exc.details)
            return outcomes.failed(job, error, exc.retryable, policy, time.time())
        except GenqError as exc:
            error = outcomes.error_doc(exc.code, exc.message, exc.details)
            return outcomes.failed(job, error, False, policy, time.time())
        except Exception as exc:
            log.warning("job %s attempt %d raised %r", job.id, job.attempts, exc)
            error = outcomes.error_doc("HANDLER_ERROR", f"{type(exc).__name__}: {exc}")
            return outcomes.failed(job, error, True, policy, time.time())

    def _stopped(self, ctx: JobContext, reason: str) -> outcomes.Outcome | None:
        """What to write for an attempt the runtime stopped: cancelled, given back
        (shutdown), or nothing (the lease is gone)."""
        if reason == "cancel":
            return outcomes.aborted(ctx.job, time.time())
        if reason == "shutdown":
            return outcomes.interrupted(ctx.job, "shutdown", time.time())
        self.writer.forget(ctx)
        return None

    # --- leases ----------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew the leases of running attempts; stop those cancelled or lost."""
        attempts = {job_id: r.ctx.job.attempts for job_id, r in self._running.items()}
        if not attempts:
            return
        try:
            state = await self.store.renew_leases(self.name, attempts, self.config.lease_s)
        except StoreUnavailable:
            log.warning("store unavailable; leases not renewed this beat")
            return
        except Exception:
            log.exception("renewing leases failed")
            return
        for job_id, reason in state.cancel_requested.items():
            self._stop_job(job_id, "cancel", reason)
        for job_id in state.lost:
            log.warning("job %s: lease lost; abandoning the attempt", job_id)
            self._stop_job(job_id, "lost")
