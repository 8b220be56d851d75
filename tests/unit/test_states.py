"""Every allowed and every forbidden transition of the one table."""

from __future__ import annotations

import itertools

import pytest

from genq.domain.states import (
    ACTIVE,
    TERMINAL,
    Action,
    JobStatus,
    TransitionError,
    can,
    sources,
    target,
    transition,
)

S, A = JobStatus, Action
ALLOWED = {
    (S.QUEUED, A.CLAIM): S.RUNNING,
    (S.DELAYED, A.PROMOTE): S.QUEUED,
    (S.RUNNING, A.COMPLETE): S.COMPLETED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.BACKOFF): S.DELAYED,
    (S.RUNNING, A.REQUEUE): S.QUEUED,
    (S.QUEUED, A.CANCEL): S.CANCELLED,
    (S.DELAYED, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.ABORT): S.CANCELLED,
    (S.FAILED, A.RETRY): S.QUEUED,
    (S.CANCELLED, A.RETRY): S.QUEUED,
}


@pytest.mark.parametrize(("status", "action"), list(ALLOWED))
def test_allowed_transition_leads_to_its_target(status: JobStatus, action: Action) -> None:
    assert can(status, action)
    assert transition(status, action) == ALLOWED[(status, action)]
    assert target(action) == ALLOWED[(status, action)]
    assert status in sources(action)


FORBIDDEN = [pair for pair in itertools.product(JobStatus, Action) if pair not in ALLOWED]


@pytest.mark.parametrize(("status", "action"), FORBIDDEN)
def test_forbidden_transition_raises(status: JobStatus, action: Action) -> None:
    assert not can(status, action)
    with pytest.raises(TransitionError) as info:
        transition(status, action)
    assert info.value.status == status
    assert info.value.action == action
    assert status.value in str(info.value)


def test_the_table_covers_every_pair_exactly_once() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(JobStatus) * len(Action)


def test_completed_never_changes_again() -> None:
    assert not any(can(S.COMPLETED, a) for a in Action)


def test_failed_and_cancelled_change_only_by_explicit_retry() -> None:
    for status in (S.FAILED, S.CANCELLED):
        assert [a for a in Action if can(status, a)] == [A.RETRY]


def test_active_and_terminal_partition_the_states() -> None:
    assert set(JobStatus) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL
