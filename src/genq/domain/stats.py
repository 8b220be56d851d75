"""Queue statistics from samples: counts, throughput and percentiles. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by nearest rank, or None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 of durations given in seconds, reported in milliseconds."""
    ordered = sorted(values_s)

    def ms(q: float) -> float | None:
        v = percentile(ordered, q)
        return None if v is None else round(v * 1000, 3)

    return {"p50": ms(50), "p95": ms(95), "p99": ms(99)}
