"""Exponential backoff with jitter, capped."""

from __future__ import annotations

import random

import pytest

from genq.domain.retry import RetryPolicy, should_retry


def test_backoff_doubles_without_jitter() -> None:
    policy = RetryPolicy(base_s=1, factor=2, cap_s=1000, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(base_s=1, factor=2, cap_s=10, jitter=0)
    assert policy.delay(30) == 10
    assert policy.delay(10_000) == 10


def test_jitter_stays_within_its_fraction_and_varies() -> None:
    policy = RetryPolicy(base_s=10, factor=1, cap_s=100, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay(1, rng) for _ in range(500)]
    assert all(8 <= d <= 12 for d in delays)
    assert len({round(d, 6) for d in delays}) > 400


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    policy = RetryPolicy()
    assert policy.delay(3, random.Random(1)) == policy.delay(3, random.Random(1))


@pytest.mark.parametrize(
    "kwargs", [{"base_s": -1}, {"cap_s": -1}, {"factor": 0.5}, {"jitter": 1.5}]
)
def test_invalid_policy_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"backoff|jitter"):
        RetryPolicy(**kwargs)


def test_should_retry_respects_attempts_and_retryability() -> None:
    assert should_retry(1, 3, True)
    assert should_retry(2, 3, True)
    assert not should_retry(3, 3, True)
    assert not should_retry(1, 3, False)
