"""AttemptWriter: gathers a worker's attempt writes and applies them in few transactions.

Writes made while a flush is running are gathered into the next one (group commit), so a
busy worker makes one transaction for many jobs and an idle one writes at once. Progress is
coalesced per job: at most one ``step_progress`` per ``progress_interval_s``, the newest
value winning, and always written ahead of the job's next uncoalesced event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from genq.domain.errors import StoreUnavailable
from genq.domain.events import Event, EventType
from genq.domain.states import Action
from genq.store.base import AttemptStore, AttemptWrite
from genq.worker.context import JobContext

log = logging.getLogger("genq.worker")

Publish = Callable[[list[Event]], Awaitable[None]]


class AttemptWriter:
    """The single path by which a worker's running attempts reach the store."""

    def __init__(
        self,
        store: AttemptStore,
        publish: Publish,
        progress_interval_s: float = 0.1,
        flush_interval_s: float = 0.0,
    ) -> None:
        self.store = store
        self.publish = publish
        self.progress_interval_s = progress_interval_s
        self.flush_interval_s = flush_interval_s
        self._pending: list[AttemptWrite] = []
        self._finishing: list[tuple[str, asyncio.Future[bool]]] = []
        self._dirty: dict[str, JobContext] = {}
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the flushing task."""
        self._task = asyncio.create_task(self._run(), name="genq-attempt-writer")

    async def close(self) -> None:
        """Write everything still pending, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._timer is not None:
            self._timer.cancel()

    def append(
        self, ctx: JobContext, events: list[tuple[str, dict[str, Any]]], values: dict[str, Any]
    ) -> None:
        """Queue a non-final write of a running attempt."""
        self._take_progress(ctx)
        self._pending.append(
            AttemptWrite(ctx.job.id, ctx.worker, ctx.job.attempts, None, values, events)
        )
        self._wake.set()

    def progress_changed(self, ctx: JobContext) -> None:
        """A context has new progress; it is written when its interval allows."""
        self._dirty[ctx.job.id] = ctx
        self._wake.set()

    async def finish(
        self,
        ctx: JobContext,
        action: Action,
        values: dict[str, Any],
        events: list[tuple[str, dict[str, Any]]],
    ) -> bool:
        """Queue the final write of an attempt; True once written, False if the lease was lost."""
        self._take_progress(ctx)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(
            AttemptWrite(ctx.job.id, ctx.worker, ctx.job.attempts, action, values, events)
        )
        self._finishing.append((ctx.job.id, future))
        self._wake.set()
        return await future

    def forget(self, ctx: JobContext) -> None:
        """Drop a context's unwritten progress (its lease is gone)."""
        self._dirty.pop(ctx.job.id, None)
        ctx.pending_progress = None

    def _take_progress(self, ctx: JobContext) -> None:
        pending = ctx.pending_progress
        if pending is None:
            return
        ctx.pending_progress = None
        ctx.progress_written_at = time.monotonic()
        self._dirty.pop(ctx.job.id, None)
        values, payload = pending
        self._pending.append(
            AttemptWrite(
                ctx.job.id,
                ctx.worker,
                ctx.job.attempts,
                None,
                values,
                [(EventType.STEP_PROGRESS, payload)],
            )
        )

    def _due_progress(self) -> float | None:
        """Queue progress whose interval has passed; return seconds until the next is due."""
        now = time.monotonic()
        next_in: float | None = None
        for ctx in list(self._dirty.values()):
            wait = ctx.progress_written_at + self.progress_interval_s - now
            if wait <= 0 or self._closing:
                self._take_progress(ctx)
            else:
                next_in = wait if next_in is None else min(next_in, wait)
        return next_in

    def _wake_in(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._wake.set)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.flush_interval_s and not self._closing:
                await asyncio.sleep(self.flush_interval_s)
            next_in = self._due_progress()
            if next_in is not None:
                self._wake_in(next_in)
            batch, self._pending = self._pending, []
            finishing, self._finishing = self._finishing, []
            if batch:
                try:
                    events = await self.store.record_attempts(batch)
                except StoreUnavailable:
                    log.warning("store unavailable; retrying %d writes", len(batch))
                    self._pending[:0] = batch
                    self._finishing[:0] = finishing
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    self._wake.set()
                    continue
                except Exception:
                    log.exception("writing %d attempt updates failed", len(batch))
                    events = []
                backoff = 0.05
                written = {e.job_id for e in events}
                for job_id, future in finishing:
                    if not future.done():
                        future.set_result(job_id in written)
                if events:
                    with contextlib.suppress(Exception):
                        await self.publish(events)
            if self._closing and not self._pending and not self._dirty:
                return
