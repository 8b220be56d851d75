"""arq on Redis; one worker process, polling every 10 ms (its default, 0.5 s, caps it far lower)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bench.peers import probe
from bench.peers.base import QUEUE_DB, AsyncPeer

REDIS_SETTINGS = RedisSettings(host="127.0.0.1", port=6379, database=QUEUE_DB)


async def noop(ctx: dict[str, Any]) -> None:
    await probe.adone()


async def timed(ctx: dict[str, Any], enqueued_at: float) -> int:
    return await probe.astarted(enqueued_at)


class WorkerSettings:
    functions = [noop, timed]
    redis_settings = REDIS_SETTINGS
    max_jobs = 100
    poll_delay = 0.01
    keep_result = 600


class ArqPeer(AsyncPeer):
    name = "arq"
    backend = "Redis"
    settings = "max_jobs 100, poll 10 ms"

    def __init__(self) -> None:
        super().__init__()
        self.pool: ArqRedis = self.run(create_pool(REDIS_SETTINGS))

    def reset(self) -> None:
        self.run(self.pool.flushdb())

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "arq", "bench.peers.arq_peer.WorkerSettings"]

    def enqueue_single(self, n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await self.pool.enqueue_job("noop")

        self.run(go())

    def enqueue_bulk(self, n: int) -> None:
        # arq has no bulk enqueue: many enqueues in flight at once is the fastest way.
        async def go() -> None:
            for start in range(0, n, 500):
                calls = [self.pool.enqueue_job("noop") for _ in range(min(500, n - start))]
                await asyncio.gather(*calls)

        self.run(go())

    def submit_and_wait(self, enqueued_at: float) -> None:
        async def go() -> None:
            job = await self.pool.enqueue_job("timed", enqueued_at)
            assert job is not None
            assert await job.result(timeout=10, poll_delay=0.001) == 1

        self.run(go())

    def close(self) -> None:
        self.run(self.pool.aclose())
        super().close()
