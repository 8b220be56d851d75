"""Event models: every change a client may care about, as ``{id, type, job_id, timestamp, data}``.

``id`` is the event's sequence number within its job (1, 2, 3, ...): dense and increasing,
so a watcher can tell a gap from a duplicate and resume with ``Last-Event-ID``.
Event names follow seed 003; pipelines may add their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any


class EventType(StrEnum):
    """The built-in event types."""

    JOB_CREATED = "job_created"
    JOB_STARTED = "job_started"
    STEP_STARTED = "step_started"
    STEP_PROGRESS = "step_progress"
    STEP_COMPLETED = "step_completed"
    TOPIC_STARTED = "topic_started"
    TOPIC_PROGRESS = "topic_progress"
    TOPIC_COMPLETED = "topic_completed"
    LOG = "log"
    JOB_RETRYING = "job_retrying"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    JOB_CANCELLED = "job_cancelled"


TERMINAL_EVENTS: frozenset[str] = frozenset(
    {EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELLED}
)
# Progress that may be coalesced: only the newest value matters.
COALESCED_EVENTS: frozenset[str] = frozenset({EventType.STEP_PROGRESS, EventType.TOPIC_PROGRESS})


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event. ``cursor`` is its position among all events (the global stream's id)."""

    job_id: str
    seq: int
    type: str
    data: dict[str, Any]
    timestamp: float
    cursor: int = 0
    owner: str = ""

    @property
    def terminal(self) -> bool:
        """Whether this event ends its job's stream."""
        return self.type in TERMINAL_EVENTS

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape of the event."""
        return {
            "id": self.seq,
            "type": self.type,
            "job_id": self.job_id,
            "timestamp": iso(self.timestamp),
            "data": self.data,
        }


def iso(ts: float | None) -> str | None:
    """An epoch time as an ISO 8601 UTC string with milliseconds, or None."""
    return None if ts is None else _iso(ts)


@lru_cache(maxsize=4096)
def _iso(ts: float) -> str:
    # Memoised: a batch's jobs, and a job's events, share their timestamps.
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
