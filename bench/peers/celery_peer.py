"""Celery 5 with a Redis broker and result backend; one worker process (solo pool)."""

from __future__ import annotations

import sys

import redis
from celery import Celery, group

from bench.peers import probe
from bench.peers.base import QUEUE_DB, REDIS, Peer

app = Celery("bench", broker=f"{REDIS}/{QUEUE_DB}", backend=f"{REDIS}/{QUEUE_DB}")
app.conf.update(
    task_default_queue="bench",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=50,
    result_expires=600,
)


@app.task(ignore_result=True)
def noop() -> None:
    probe.done()


@app.task
def timed(enqueued_at: float) -> int:
    return probe.started(enqueued_at)


class CeleryPeer(Peer):
    name = "Celery"
    backend = "Redis"
    settings = "solo pool, prefetch 50"

    def reset(self) -> None:
        redis.Redis.from_url(f"{REDIS}/{QUEUE_DB}").flushdb()

    def worker_cmd(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "bench.peers.celery_peer", "worker",
            "--pool=solo", "--loglevel=warning", "-Q", "bench", "--without-heartbeat",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip

    def enqueue_single(self, n: int) -> None:
        for _ in range(n):
            noop.delay()

    def enqueue_bulk(self, n: int) -> None:
        # Celery has no bulk enqueue; a group publishes its messages in one call.
        group(noop.s() for _ in range(n)).apply_async()

    def submit_and_wait(self, enqueued_at: float) -> None:
        timed.delay(enqueued_at).get(timeout=10, interval=0.001)
