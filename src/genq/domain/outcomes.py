"""What each way an attempt can end writes: the action, the columns and the event. Pure."""

from __future__ import annotations

import random
from typing import Any

from genq.domain.events import EventType, iso
from genq.domain.job import Job
from genq.domain.retry import RetryPolicy, should_retry
from genq.domain.states import Action

Outcome = tuple[Action, dict[str, Any], list[tuple[str, dict[str, Any]]]]


def completed(job: Job, result: Any, now: float) -> Outcome:
    """The handler returned ``result``."""
    duration_ms = round((now - (job.started_at or now)) * 1000)
    values = {"result": result, "finished_at": now, "progress": 100}
    data = {"result": result, "attempt": job.attempts, "duration": duration_ms}
    return Action.COMPLETE, values, [(EventType.JOB_COMPLETED, data)]


def error_doc(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """A job's ``error`` field."""
    doc: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        doc["details"] = details
    return doc


def failed(
    job: Job,
    error: dict[str, Any],
    retryable: bool,
    policy: RetryPolicy,
    now: float,
    rng: random.Random | None = None,
) -> Outcome:
    """The attempt failed: back off for another attempt, or fail for good."""
    if should_retry(job.attempts, job.max_attempts, retryable):
        delay = policy.delay(job.attempts, rng)
        data = {
            "attempt": job.attempts + 1,
            "max_attempts": job.max_attempts,
            "delay": round(delay, 3),
            "run_at": iso(now + delay),
            "error": error,
        }
        values = {"error": error, "run_at": now + delay}
        return Action.BACKOFF, values, [(EventType.JOB_RETRYING, data)]
    data = {"error": error, "attempt": job.attempts, "failed_step": job.step}
    return Action.FAIL, {"error": error, "finished_at": now}, [(EventType.JOB_FAILED, data)]


def aborted(job: Job, now: float) -> Outcome:
    """A running job stopped because a client cancelled it."""
    data = {"reason": job.cancel_reason, "cancelled_at": iso(now)}
    values = {"cancelled_at": now, "finished_at": now}
    return Action.ABORT, values, [(EventType.JOB_CANCELLED, data)]


def interrupted(job: Job, reason: str, now: float) -> Outcome:
    """The worker stopped before the job did (shutdown): ready again, the attempt not charged."""
    data = {"attempt": job.attempts + 1, "reason": reason, "run_at": iso(now)}
    values = {"run_at": now, "max_attempts": job.max_attempts + 1}
    return Action.REQUEUE, values, [(EventType.JOB_RETRYING, data)]


def lease_expired(job: Job, now: float) -> Outcome:
    """The worker holding the job vanished: cancel, retry or fail, as the job's state says."""
    if job.cancel_requested_at is not None:
        return aborted(job, now)
    error = error_doc("LEASE_EXPIRED", "the worker running this job stopped responding")
    if job.attempts < job.max_attempts:
        data = {"attempt": job.attempts + 1, "reason": "lease_expired", "error": error}
        return Action.REQUEUE, {"error": error, "run_at": now}, [(EventType.JOB_RETRYING, data)]
    data = {"error": error, "attempt": job.attempts, "failed_step": job.step}
    return Action.FAIL, {"error": error, "finished_at": now}, [(EventType.JOB_FAILED, data)]
