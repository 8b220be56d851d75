"""What the runner needs from each peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from bench.peers import probe

REDIS = "redis://127.0.0.1:6379"
QUEUE_DB = 13  # the peers' own Redis database (the probe has 14)


class Peer:
    """One job system, driven from the benchmark's process; its worker is a subprocess."""

    name = "?"
    backend = "?"
    settings = ""  # how it is configured, for the table

    def reset(self) -> None:
        """Empty the system's queues and results."""
        raise NotImplementedError

    def worker_cmd(self) -> list[str]:
        """The command that runs one worker process."""
        raise NotImplementedError

    def enqueue_single(self, n: int) -> float | None:
        """Enqueue ``n`` noop jobs one call at a time (returns seconds if it timed itself)."""
        raise NotImplementedError

    def enqueue_bulk(self, n: int) -> float | None:
        """Enqueue ``n`` noop jobs the fastest way the system offers."""
        raise NotImplementedError

    def submit_and_wait(self, enqueued_at: float) -> None:
        """Enqueue one timed job and wait until its result is seen."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Wait until a freshly started worker takes jobs: one timed job, not counted."""
        self.timed_run(1, 1.0)
        probe.reset()

    def timed_run(self, count: int, rate: float) -> list[float]:
        """``count`` timed jobs at ``rate`` per second; each one's enqueue→result-seen, ms."""
        seen: list[float] = []
        next_at = time.monotonic()
        for _ in range(count):
            enqueued_at = time.time()
            self.submit_and_wait(enqueued_at)
            seen.append((time.time() - enqueued_at) * 1000)
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        return seen

    def close(self) -> None:
        return None


class AsyncPeer(Peer):
    """A peer whose client API is async: one event loop for its whole life."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()
