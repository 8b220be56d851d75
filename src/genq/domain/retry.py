"""Retry policy: exponential backoff with jitter, capped. Pure; the caller supplies randomness."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before attempt ``n + 1`` after attempt ``n`` failed.

    The delay is ``base * factor ** (attempt - 1)``, capped at ``cap``, then spread by
    ``±jitter`` (a fraction) so that jobs failing together do not retry together.
    """

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError("backoff base and cap must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        exponent = max(attempt - 1, 0)
        # Avoid float overflow for absurd attempt numbers: once past the cap, stay there.
        raw = self.cap_s if exponent > 64 else min(self.base_s * self.factor**exponent, self.cap_s)
        if self.jitter == 0 or raw == 0:
            return raw
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, raw * (1 + spread))


def should_retry(attempts: int, max_attempts: int, retryable: bool) -> bool:
    """Whether a failed attempt is followed by another one."""
    return retryable and attempts < max_attempts
