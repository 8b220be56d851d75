"""JobContext: what a handler gets to report progress, steps and logs, and to see cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from genq.domain.events import EventType
from genq.domain.job import Job
from genq.store.base import Store

if TYPE_CHECKING:
    from genq.blobs import BlobStore
    from genq.providers import Providers
    from genq.worker.writer import AttemptWriter


class JobContext:
    """The running attempt's view of genq. Progress is coalesced; everything else is kept."""

    def __init__(
        self,
        job: Job,
        writer: AttemptWriter,
        worker: str,
        providers: Providers | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.job = job
        self.worker = worker
        self._writer = writer
        self._providers = providers
        self._blobs = blobs
        self._cancel_requested = False
        self._step_index = 0
        self.total_steps: int | None = None
        # Newest progress not yet written, and when progress was last written.
        self.pending_progress: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.progress_written_at = 0.0

    @property
    def job_id(self) -> str:
        """The job's id."""
        return self.job.id

    @property
    def providers(self) -> Providers:
        """The AI providers this worker was given."""
        if self._providers is None:
            raise RuntimeError("this worker was started without AI providers")
        return self._providers

    @property
    def blobs(self) -> BlobStore:
        """The blob store for the files this job makes."""
        if self._blobs is None:
            raise RuntimeError("this worker was started without a blob store")
        return self._blobs

    @property
    def store(self) -> Store:
        """The store (for pipelines that keep records of their own: exams, courses)."""
        store = self._writer.store
        if not isinstance(store, Store):
            raise RuntimeError(f"{self.job.type!r} needs genq's database: a remote worker has none")
        return store

    async def load_checkpoint(self) -> dict[str, Any] | None:
        """What earlier attempts of this job saved of their progress (None: nothing)."""
        return await self._writer.store.load_checkpoint(self.job.id)

    async def save_checkpoint(self, data: dict[str, Any]) -> None:
        """Save progress, so that a later attempt (an automatic or manual retry) resumes."""
        await self._writer.store.save_checkpoint(self.job.id, data)

    @property
    def attempt(self) -> int:
        """The attempt number, from 1."""
        return self.job.attempts

    @property
    def cancel_requested(self) -> bool:
        """Whether a client asked this job to stop (the task is also cancelled)."""
        return self._cancel_requested

    def request_cancel(self) -> None:
        """Mark the job as asked to stop (called by the runtime)."""
        self._cancel_requested = True

    def check_cancelled(self) -> None:
        """Raise CancelledError if a client asked this job to stop: a cancellation point."""
        if self._cancel_requested:
            raise asyncio.CancelledError

    async def progress(
        self, pct: float, message: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        """Report overall progress (0-100). Calls in quick succession are coalesced."""
        value = max(0, min(100, round(pct)))
        payload: dict[str, Any] = {"step": self.job.step, "progress": value}
        if message is not None:
            payload["message"] = message
        if data:
            payload["data"] = data
        values: dict[str, Any] = {"progress": value}
        if message is not None:
            values["message"] = message
        self.job.progress = value
        self.pending_progress = (values, payload)
        self._writer.progress_changed(self)

    async def log(self, text: str, level: str = "info") -> None:
        """Append a log line to the job's event stream."""
        await self.emit(EventType.LOG, {"message": text, "level": level})

    async def emit(
        self, event_type: str, data: dict[str, Any], values: dict[str, Any] | None = None
    ) -> None:
        """Append any event (pipelines add their own types), never coalesced."""
        self._writer.append(self, [(event_type, data)], values or {})

    @asynccontextmanager
    async def step(self, name: str, message: str | None = None) -> AsyncIterator[None]:
        """A named step: emits step_started, then step_completed with its duration in ms."""
        self._step_index += 1
        index = self._step_index
        self.job.step = name
        started: dict[str, Any] = {"step": name, "stepIndex": index}
        if self.total_steps is not None:
            started["totalSteps"] = self.total_steps
        if message is not None:
            started["message"] = message
        await self.emit(EventType.STEP_STARTED, started, {"step": name, "message": message})
        t0 = time.perf_counter()
        yield
        done: dict[str, Any] = {
            "step": name,
            "stepIndex": index,
            "duration": round((time.perf_counter() - t0) * 1000),
        }
        if self.total_steps is not None:
            done["totalSteps"] = self.total_steps
        await self.emit(EventType.STEP_COMPLETED, done)
