"""How the peers' tasks report back: one Redis round trip per job, sync or async."""

from __future__ import annotations

import os
import time

import redis
import redis.asyncio as aioredis

URL = os.environ.get("BENCH_PROBE_REDIS", "redis://127.0.0.1:6379/14")
DONE, FIRST, LAST, STARTS = "bench:done", "bench:first", "bench:last", "bench:starts"

_sync: redis.Redis | None = None
_async: aioredis.Redis | None = None


def _client() -> redis.Redis:
    global _sync
    if _sync is None:
        _sync = redis.Redis.from_url(URL)
    return _sync


def _aclient() -> aioredis.Redis:
    global _async
    if _async is None:
        _async = aioredis.Redis.from_url(URL)
    return _async


def done() -> None:
    """A throughput job finished: count it, and keep the first and last finish times."""
    now = time.time()
    pipe = _client().pipeline(transaction=False)
    pipe.incr(DONE).set(FIRST, now, nx=True).set(LAST, now)
    pipe.execute()


async def adone() -> None:
    now = time.time()
    pipe = _aclient().pipeline(transaction=False)
    pipe.incr(DONE).set(FIRST, now, nx=True).set(LAST, now)
    await pipe.execute()


def started(enqueued_at: float) -> int:
    """A latency job started: record how long after its enqueue."""
    _client().rpush(STARTS, time.time() - enqueued_at)
    return 1


async def astarted(enqueued_at: float) -> int:
    await _aclient().rpush(STARTS, time.time() - enqueued_at)
    return 1


def reset() -> None:
    _client().flushdb()


def count() -> int:
    return int(_client().get(DONE) or 0)


def drain_rate() -> float:
    """Jobs per second from the first finish to the last."""
    c = _client()
    first, last, n = float(c.get(FIRST) or 0), float(c.get(LAST) or 0), count()
    return (n - 1) / (last - first) if last > first else float("nan")


def start_delays_ms() -> list[float]:
    return [float(x) * 1000 for x in _client().lrange(STARTS, 0, -1)]
