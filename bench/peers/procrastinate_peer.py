"""Procrastinate on PostgreSQL; one worker process, concurrency 50."""

from __future__ import annotations

import asyncio
import os
import sys

import psycopg
from procrastinate import App, PsycopgConnector

from bench.peers import probe
from bench.peers.base import AsyncPeer

DSN = os.environ.get(
    "BENCH_PROCRASTINATE_DSN", "postgresql://postgres@127.0.0.1:5432/genq_bench_pc"
)

app = App(connector=PsycopgConnector(conninfo=DSN))


@app.task(queue="bench", name="noop")
async def noop() -> None:
    await probe.adone()


@app.task(queue="bench", name="timed")
async def timed(enqueued_at: float) -> int:
    return await probe.astarted(enqueued_at)


class ProcrastinatePeer(AsyncPeer):
    name = "Procrastinate"
    backend = "PostgreSQL"
    settings = "concurrency 50"

    def __init__(self) -> None:
        super().__init__()
        admin = DSN.rsplit("/", 1)[0] + "/test"
        name = DSN.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

        async def open_app() -> None:
            await app.open_async()
            await app.schema_manager.apply_schema_async()

        self.run(open_app())

    def reset(self) -> None:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def worker_cmd(self) -> list[str]:
        return [
            sys.executable, "-m", "procrastinate", "--app=bench.peers.procrastinate_peer.app",
            "worker", "--concurrency=50", "--queues=bench",
        ]  # fmt: skip

    def enqueue_single(self, n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await noop.defer_async()

        self.run(go())

    def enqueue_bulk(self, n: int) -> None:
        async def go() -> None:
            for start in range(0, n, 1000):
                await noop.batch_defer_async(*({} for _ in range(min(1000, n - start))))

        self.run(go())

    def submit_and_wait(self, enqueued_at: float) -> None:
        # Procrastinate keeps no results: the client polls the job's status.
        async def go() -> None:
            job_id = await timed.defer_async(enqueued_at=enqueued_at)
            while True:
                status = await app.job_manager.get_job_status_async(job_id)
                if status.value in ("succeeded", "failed"):
                    assert status.value == "succeeded"
                    return
                await asyncio.sleep(0.001)

        self.run(go())

    def close(self) -> None:
        self.run(app.close_async())
        super().close()
