"""RQ 2+ on Redis; one worker process (SimpleWorker: no fork per job)."""

from __future__ import annotations

import sys

from redis import Redis
from rq import Queue

from bench.peers import probe
from bench.peers.base import QUEUE_DB, REDIS, Peer


def noop() -> None:
    probe.done()


def timed(enqueued_at: float) -> int:
    return probe.started(enqueued_at)


class RQPeer(Peer):
    name = "RQ"
    backend = "Redis"
    settings = "SimpleWorker"

    def __init__(self) -> None:
        self.redis = Redis.from_url(f"{REDIS}/{QUEUE_DB}")
        self.queue = Queue("bench", connection=self.redis)

    def reset(self) -> None:
        self.redis.flushdb()

    def worker_cmd(self) -> list[str]:
        return [
            sys.executable, "-m", "rq.cli", "worker", "--url", f"{REDIS}/{QUEUE_DB}",
            "-w", "rq.worker.SimpleWorker", "--logging_level", "WARNING", "bench",
        ]  # fmt: skip

    def enqueue_single(self, n: int) -> None:
        for _ in range(n):
            self.queue.enqueue(noop)

    def enqueue_bulk(self, n: int) -> None:
        for start in range(0, n, 1000):
            jobs = [Queue.prepare_data(noop) for _ in range(min(1000, n - start))]
            self.queue.enqueue_many(jobs)

    def submit_and_wait(self, enqueued_at: float) -> None:
        job = self.queue.enqueue(timed, enqueued_at)
        result = job.latest_result(timeout=10)
        assert result is not None
        assert result.return_value == 1
