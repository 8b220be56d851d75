"""What each end of an attempt writes."""

from __future__ import annotations

import random

from genq.domain import outcomes
from genq.domain.job import Job
from genq.domain.retry import RetryPolicy
from genq.domain.states import Action, JobStatus


def running(attempts: int = 1, max_attempts: int = 3, **kw: object) -> Job:
    return Job(
        id="j",
        type="t",
        queue="q",
        owner="o",
        params={},
        status=JobStatus.RUNNING,
        attempts=attempts,
        max_attempts=max_attempts,
        started_at=100.0,
        **kw,  # type: ignore[arg-type]
    )


def test_completed_records_result_and_duration() -> None:
    action, values, events = outcomes.completed(running(), {"x": 1}, 100.25)
    assert action == Action.COMPLETE
    assert values["result"] == {"x": 1}
    assert values["progress"] == 100
    assert events == [("job_completed", {"result": {"x": 1}, "attempt": 1, "duration": 250})]


def test_failure_with_attempts_left_backs_off() -> None:
    policy = RetryPolicy(base_s=2, jitter=0)
    error = outcomes.error_doc("E", "boom")
    action, values, events = outcomes.failed(running(1, 3), error, True, policy, 1000.0)
    assert action == Action.BACKOFF
    assert values["run_at"] == 1002.0
    assert events[0][0] == "job_retrying"
    assert events[0][1]["attempt"] == 2


def test_failure_on_last_attempt_fails_for_good() -> None:
    error = outcomes.error_doc("E", "boom")
    action, values, events = outcomes.failed(running(3, 3), error, True, RetryPolicy(), 5.0)
    assert action == Action.FAIL
    assert values["error"] == error
    assert events[0][0] == "job_failed"


def test_non_retryable_failure_ends_at_once() -> None:
    error = outcomes.error_doc("E", "boom")
    action, _, _ = outcomes.failed(
        running(1, 5), error, False, RetryPolicy(), 5.0, random.Random(1)
    )
    assert action == Action.FAIL


def test_lease_expiry_requeues_fails_or_cancels() -> None:
    assert outcomes.lease_expired(running(1, 3), 9.0)[0] == Action.REQUEUE
    action, values, _ = outcomes.lease_expired(running(3, 3), 9.0)
    assert action == Action.FAIL
    assert values["error"]["code"] == "LEASE_EXPIRED"
    asked = running(1, 3, cancel_requested_at=8.0, cancel_reason="stop")
    action, _, events = outcomes.lease_expired(asked, 9.0)
    assert action == Action.ABORT
    assert events[0][1]["reason"] == "stop"


def test_interruption_gives_the_attempt_back() -> None:
    action, values, events = outcomes.interrupted(running(2, 3), "shutdown", 9.0)
    assert action == Action.REQUEUE
    assert values["max_attempts"] == 4
    assert events[0][1]["reason"] == "shutdown"
