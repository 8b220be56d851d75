"""The job record as the rest of genq sees it, independent of how it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genq.domain.events import iso
from genq.domain.states import JobStatus

LOCAL_OWNER = "local"


@dataclass(slots=True)
class Job:
    """A unit of work and everything known about it."""

    id: str
    type: str
    queue: str
    owner: str
    params: dict[str, Any]
    status: JobStatus
    priority: int = 0
    progress: int = 0
    step: str | None = None
    message: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    run_at: float = 0.0
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    claim_token: str | None = None
    dedupe_key: str | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    cancelled_at: float | None = None
    cancel_requested_at: float | None = None
    cancel_reason: str | None = None
    last_seq: int = 0
    fair_rank: int = 0
    charged: int = 0  # credits the job holds (given back if it fails for good)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape of the job (no lease internals)."""
        return {
            "id": self.id,
            "type": self.type,
            "queue": self.queue,
            "owner": self.owner,
            "status": self.status.value,
            "params": self.params,
            "priority": self.priority,
            "progress": self.progress,
            "step": self.step,
            "message": self.message,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "dedupe_key": self.dedupe_key,
            "result": self.result,
            "error": self.error,
            "cancel_requested": self.cancel_requested_at is not None,
            "cancel_reason": self.cancel_reason,
            "run_at": iso(self.run_at),
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "cancelled_at": iso(self.cancelled_at),
            "last_event_id": self.last_seq,
            "credits_held": self.charged,
        }
