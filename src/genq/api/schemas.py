"""Request bodies of the native API, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genq.service.jobs import SubmitRequest

NAME_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


class JobCreate(BaseModel):
    """``POST /v1/jobs``: one job to run."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200, description="a registered job type")
    params: dict[str, Any] = Field(default_factory=dict, description="the job type's parameters")
    queue: str | None = Field(
        None, min_length=1, max_length=200, pattern=NAME_PATTERN, description="default: the type's"
    )
    priority: int = Field(0, ge=-1000, le=1000, description="higher runs first")
    dedupe_key: str | None = Field(
        None, min_length=1, max_length=400, description="at most one active job per key and owner"
    )
    delay_s: float | None = Field(None, ge=0, le=31_536_000, description="run after this delay")
    run_at: datetime | None = Field(None, description="run at this time (ISO 8601)")
    max_attempts: int | None = Field(None, ge=1, le=100, description="default: the type's")

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if self.delay_s is not None and self.run_at is not None:
            raise ValueError("give delay_s or run_at, not both")
        if self.run_at is not None and self.run_at.tzinfo is None:
            raise ValueError("run_at needs a time zone (e.g. 2026-01-01T10:00:00Z)")
        return self

    def to_request(self) -> SubmitRequest:
        """The service's view of this body."""
        return SubmitRequest(
            type=self.type,
            params=self.params,
            queue=self.queue,
            priority=self.priority,
            dedupe_key=self.dedupe_key,
            delay_s=self.delay_s,
            run_at=self.run_at.timestamp() if self.run_at else None,
            max_attempts=self.max_attempts,
        )


class JobBatch(BaseModel):
    """``POST /v1/jobs/batch``: jobs inserted all or nothing."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobCreate] = Field(min_length=1)


class CancelBody(BaseModel):
    """``POST /v1/jobs/{id}/cancel``."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=1000)


class CleanBody(BaseModel):
    """``POST /v1/queues/clean``: delete finished jobs older than the grace."""

    model_config = ConfigDict(extra="forbid")

    grace_s: float = Field(ge=0, description="keep jobs that finished more recently than this")
    status: Literal["completed", "failed", "cancelled"] = "completed"


class KeyCreate(BaseModel):
    """``POST /v1/keys``: a new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="what the key is for")
    role: Literal["user", "admin", "service", "worker"] = "user"
    user_id: str | None = Field(
        None, min_length=1, max_length=200, description="the user it acts as (default: its own)"
    )


class StreamTokenCreate(BaseModel):
    """``POST /v1/auth/stream-token``: a token for one job's stream, or for all of them."""

    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(None, description="the job to watch; omitted: /v1/events")


class GrantCreate(BaseModel):
    """``POST /v1/billing/grants``: credits added to a user's ledger."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0, le=1_000_000_000)
    kind: Literal["grant", "purchase"] = "grant"
    note: str | None = Field(None, max_length=1000)
