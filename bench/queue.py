"""Queue throughput and latency of genq on SQLite and PostgreSQL, one worker process.

- enqueue: POST /v1/jobs one request at a time, and POST /v1/jobs/batch (1,000 a request);
- drain: 10,000 queued ``noop`` jobs worked by one ``genq worker`` process, measured from
  the first start to the last finish recorded in the store (events persisted as always);
- latency: enqueue->start of jobs submitted one by one at about 50 jobs/s.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.common import free_port, fresh_pg_database, genq, median, percentile, process, wait_http
from genq.store import make_store
from genq.store.schema import jobs
from genq.store.sql import SqlStore


async def _query(url: str, stmt: Any) -> list[Any]:
    store = make_store(url)
    assert isinstance(store, SqlStore)
    await store.open()
    try:
        async with store.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())
    finally:
        await store.close()


def _count(url: str, queue: str, status: str) -> int:
    stmt = (
        select(func.count()).select_from(jobs).where(jobs.c.queue == queue, jobs.c.status == status)
    )
    return int(asyncio.run(_query(url, stmt))[0][0])


def _enqueue(port: int, single: int, batches: int) -> tuple[float, float]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
        t0 = time.perf_counter()
        for _ in range(single):
            assert (
                c.post("/v1/jobs", json={"type": "noop", "queue": "bench-single"}).status_code
                == 201
            )
        single_rate = single / (time.perf_counter() - t0)
        body = {"jobs": [{"type": "noop"} for _ in range(1000)]}
        t0 = time.perf_counter()
        for _ in range(batches):
            assert c.post("/v1/jobs/batch", json=body).status_code == 201
        batch_rate = batches * 1000 / (time.perf_counter() - t0)
    return single_rate, batch_rate


def _drain(url: str, total: int, tmp: Path) -> float:
    with process(genq("worker", "--db", url, "--concurrency", "200"), log=tmp / "worker.log"):
        deadline = time.monotonic() + 300
        while _count(url, "default", "completed") < total:
            if time.monotonic() > deadline:
                raise RuntimeError("drain did not finish in 5 minutes")
            time.sleep(0.25)
    stmt = select(func.min(jobs.c.started_at), func.max(jobs.c.finished_at)).where(
        jobs.c.queue == "default"
    )
    first, last = asyncio.run(_query(url, stmt))[0]
    return total / (last - first)


def _latency(url: str, port: int, count: int, tmp: Path, split: bool) -> dict[str, float]:
    serve = genq(
        "serve",
        "--db",
        url,
        "--port",
        str(port),
        *(["--no-workers"] if split else ["--queue", "latency"]),
    )
    with process(serve, log=tmp / "serve-latency.log"):
        wait_http(port)
        worker = genq("worker", "--db", url, "--queue", "latency")
        with process(worker, log=tmp / "worker-latency.log") if split else _nothing():
            time.sleep(2.0 if split else 0.5)
            seen: list[float] = []
            waited: list[float] = []
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
                next_at = time.monotonic()
                for i in range(count):
                    # Alternately: submit then watch the stream, or one Prefer: wait request.
                    if i % 2:
                        waited.append(_submit_and_wait(c))
                    else:
                        seen.append(_submit_and_watch(c))
                    next_at += 0.02
                    time.sleep(max(0.0, next_at - time.monotonic()))
            deadline = time.monotonic() + 60
            while _count(url, "latency", "completed") < count and time.monotonic() < deadline:
                time.sleep(0.1)
    rows = asyncio.run(
        _query(url, select(jobs.c.started_at - jobs.c.created_at).where(jobs.c.queue == "latency"))
    )
    waits = [r[0] * 1000 for r in rows]
    return {
        "latency_p50_ms": percentile(waits, 50),
        "latency_p99_ms": percentile(waits, 99),
        "result_p50_ms": percentile(seen, 50),
        "result_p99_ms": percentile(seen, 99),
        "wait_p50_ms": percentile(waited, 50),
        "wait_p99_ms": percentile(waited, 99),
    }


def _submit_and_watch(c: httpx.Client) -> float:
    """Submit one job and watch its event stream to the terminal event; milliseconds."""
    t0 = time.perf_counter()
    job = c.post("/v1/jobs", json={"type": "noop", "queue": "latency"}).json()
    with c.stream("GET", f"/v1/jobs/{job['id']}/events") as events:
        for line in events.iter_lines():
            if line == "event: job_completed":
                break
    return (time.perf_counter() - t0) * 1000


def _submit_and_wait(c: httpx.Client) -> float:
    """Submit one job with ``Prefer: wait`` and get it back finished; milliseconds."""
    t0 = time.perf_counter()
    job = c.post(
        "/v1/jobs", json={"type": "noop", "queue": "latency"}, headers={"Prefer": "wait=10"}
    ).json()
    assert job["status"] == "completed", job
    return (time.perf_counter() - t0) * 1000


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def bench_backend(
    backend: str, rounds: int, total: int = 10_000, single: int = 2_000
) -> dict[str, Any]:
    runs: list[dict[str, float]] = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            url = (
                f"sqlite:///{tmp}/bench.db"
                if backend == "sqlite"
                else fresh_pg_database("genq_bench")
            )
            import subprocess

            subprocess.run(genq("migrate", "--db", url), check=True, capture_output=True)
            port = free_port()
            with process(
                genq("serve", "--db", url, "--port", str(port), "--no-workers"),
                log=tmp / "serve.log",
            ):
                wait_http(port)
                single_rate, batch_rate = _enqueue(port, single, total // 1000)
            drain = _drain(url, total, tmp)
            latency = _latency(url, free_port(), 150, tmp, split=backend == "postgres")
            runs.append(
                {
                    "enqueue_single": single_rate,
                    "enqueue_batch": batch_rate,
                    "drain": drain,
                    **latency,
                }
            )
            print(
                f"  {backend} round {r + 1}: "
                + ", ".join(f"{k}={v:.1f}" for k, v in runs[-1].items()),
                flush=True,
            )
    return {k: median([run[k] for run in runs]) for k in runs[0]}
