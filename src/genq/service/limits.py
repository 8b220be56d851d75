"""Rate limits per principal and route group, on the ``limits`` library.

Counters live in memory (one process) or in Redis (shared by every genq process that
names the same Redis). Limits are set per role; a role without limits (by default admin
and service) is not counted at all. ``limits`` is imported only when some role is limited.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from genq.domain.auth import Principal
from genq.domain.errors import RateLimitExceeded, StoreUnavailable


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where a principal stands against one limit after a request."""

    limit: int
    remaining: int
    reset: float  # epoch seconds when the window resets

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of seed 001."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset)),
        }


def storage_uri(uri: str) -> str:
    """``limits``' async scheme for a storage URI (``redis://`` -> ``async+redis://``)."""
    if uri.startswith(("redis://", "rediss://", "memory://")):
        return f"async+{uri}"
    return uri


class RateLimiter:
    """Counts requests per (principal, group) and refuses those over the limit with 429."""

    def __init__(self, uri: str, strategy: str, rules: dict[str, dict[str, str]]) -> None:
        from limits import parse
        from limits.aio.strategies import STRATEGIES
        from limits.storage import storage_from_string

        self._storage: Any = storage_from_string(storage_uri(uri))
        strategy_class: Any = STRATEGIES[strategy]
        self._limiter: Any = strategy_class(self._storage)
        self._rules = {
            role: {g: parse(spec) for g, spec in groups.items()} for role, groups in rules.items()
        }

    def limited(self, principal: Principal, group: str) -> bool:
        """Whether requests of this principal in this group are counted at all."""
        return group in self._rules.get(principal.role.value, {})

    async def hit(self, principal: Principal, group: str, cost: int = 1) -> LimitState | None:
        """Count ``cost`` requests; raise RateLimitExceeded (with headers) when over.

        None when the principal's role is not limited in this group.
        """
        item = self._rules.get(principal.role.value, {}).get(group)
        if item is None:
            return None
        try:
            allowed = await self._limiter.hit(item, principal.limit_key, group, cost=cost)
            reset, remaining = await self._limiter.get_window_stats(
                item, principal.limit_key, group
            )
        except Exception as exc:  # the storage's own errors (coredis, connection refused)
            raise StoreUnavailable("the rate-limit store is unavailable; try again") from exc
        state = LimitState(item.amount, remaining, reset)
        if not allowed:
            retry_after = max(1, math.ceil(reset - time.time()))
            raise RateLimitExceeded(
                f"{group} limit of {item.amount} per {item.get_expiry()} s reached; "
                f"retry in {retry_after} s",
                {"limit": item.amount, "group": group, "retry_after_s": retry_after},
            ).with_headers({**state.headers(), "Retry-After": str(retry_after)})
        return state
