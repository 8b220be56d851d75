"""SAQ on Redis; one worker process, concurrency 50."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from saq import Queue

from bench.peers import probe
from bench.peers.base import QUEUE_DB, REDIS, AsyncPeer

URL = f"{REDIS}/{QUEUE_DB}"


async def noop(ctx: dict[str, Any]) -> None:
    await probe.adone()


async def timed(ctx: dict[str, Any], *, enqueued_at: float) -> int:
    return await probe.astarted(enqueued_at)


settings = {
    "queue": Queue.from_url(URL, name="bench"),
    "functions": [noop, timed],
    "concurrency": 50,
}


class SaqPeer(AsyncPeer):
    name = "SAQ"
    backend = "Redis"
    settings = "concurrency 50"

    def __init__(self) -> None:
        super().__init__()
        self.queue = Queue.from_url(URL, name="bench")
        self.run(self.queue.connect())

    def reset(self) -> None:
        self.run(self.queue.redis.flushdb())  # type: ignore[attr-defined]

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "saq", "bench.peers.saq_peer.settings", "--quiet"]

    def enqueue_single(self, n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await self.queue.enqueue("noop")

        self.run(go())

    def enqueue_bulk(self, n: int) -> None:
        # SAQ has no bulk enqueue: many enqueues in flight at once is the fastest way.
        async def go() -> None:
            for start in range(0, n, 500):
                calls = [self.queue.enqueue("noop") for _ in range(min(500, n - start))]
                await asyncio.gather(*calls)

        self.run(go())

    def submit_and_wait(self, enqueued_at: float) -> None:
        async def go() -> None:
            result = await self.queue.apply(
                "timed", timeout=10, poll_interval=0.001, enqueued_at=enqueued_at
            )
            assert result == 1

        self.run(go())

    def close(self) -> None:
        self.run(self.queue.disconnect())
        super().close()
