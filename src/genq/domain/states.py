"""Job states and the one transition table that every store write is checked against.

A transition is named by the action that causes it. The table maps each action to the
states it may start from and the state it leads to; the store derives its SQL guards
(``WHERE status IN (...)``) from :func:`sources`, so the table is the single authority.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    DELAYED = "delayed"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    """Everything that can move a job from one state to another."""

    CLAIM = "claim"  # a worker takes a ready job
    PROMOTE = "promote"  # a delayed job's run_at has come
    COMPLETE = "complete"  # the handler returned
    FAIL = "fail"  # the last attempt failed, or the error is not retryable
    BACKOFF = "backoff"  # an attempt failed and the next one waits for its run_at
    REQUEUE = "requeue"  # a lease expired or a worker shut down: ready again at once
    CANCEL = "cancel"  # a client cancelled a job that had not started
    ABORT = "abort"  # a running job ended cancelled after its cleanup
    RETRY = "retry"  # a client asked to run a failed or cancelled job again


ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.DELAYED, JobStatus.RUNNING})
TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)

_S = JobStatus
TRANSITIONS: dict[Action, tuple[frozenset[JobStatus], JobStatus]] = {
    Action.CLAIM: (frozenset({_S.QUEUED}), _S.RUNNING),
    Action.PROMOTE: (frozenset({_S.DELAYED}), _S.QUEUED),
    Action.COMPLETE: (frozenset({_S.RUNNING}), _S.COMPLETED),
    Action.FAIL: (frozenset({_S.RUNNING}), _S.FAILED),
    Action.BACKOFF: (frozenset({_S.RUNNING}), _S.DELAYED),
    Action.REQUEUE: (frozenset({_S.RUNNING}), _S.QUEUED),
    Action.CANCEL: (frozenset({_S.QUEUED, _S.DELAYED}), _S.CANCELLED),
    Action.ABORT: (frozenset({_S.RUNNING}), _S.CANCELLED),
    Action.RETRY: (frozenset({_S.FAILED, _S.CANCELLED}), _S.QUEUED),
}


class TransitionError(Exception):
    """An action was asked of a job in a state that does not allow it."""

    def __init__(self, status: JobStatus, action: Action) -> None:
        super().__init__(f"cannot {action.value} a job that is {status.value}")
        self.status = status
        self.action = action


def sources(action: Action) -> frozenset[JobStatus]:
    """The states from which ``action`` is allowed."""
    return TRANSITIONS[action][0]


def target(action: Action) -> JobStatus:
    """The state that ``action`` leads to."""
    return TRANSITIONS[action][1]


def can(status: JobStatus, action: Action) -> bool:
    """Whether ``action`` is allowed from ``status``."""
    return status in TRANSITIONS[action][0]


def transition(status: JobStatus, action: Action) -> JobStatus:
    """The state after ``action`` from ``status``; raises :class:`TransitionError` if forbidden."""
    allowed, to = TRANSITIONS[action]
    if status not in allowed:
        raise TransitionError(status, action)
    return to
