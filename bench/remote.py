"""Remote workers against local ones: what running jobs over the HTTP protocol costs.

Set-ups working ``noop`` jobs:

- ``in-process`` (SQLite): ``genq serve`` with its own worker;
- ``worker process`` (PostgreSQL): ``genq serve --no-workers`` and ``genq worker --db``
  (claims from the database, woken by the bus);
- ``remote worker`` (both): ``genq serve --no-workers`` and ``genq worker --remote``
  (claims by long poll over HTTP; each flush of its writes is one ``batch`` call).

For each: enqueue→start latency of jobs submitted one by one at about 50 a second
(``started_at - created_at`` in the store), the time for one ``POST /v1/jobs`` with
``Prefer: wait`` to return the finished job, and the drain rate of a backlog of jobs
queued before the worker starts (first start to last finish, as in bench/queue.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.common import (
    free_port,
    fresh_pg_database,
    genq,
    median,
    percentile,
    process,
    wait_http,
)
from bench.queue import _count, _query
from genq.store.schema import jobs

BACKLOG, LATENCY = "bench-backlog", "bench-latency"
# (set-up, store): the worker process on PostgreSQL, where processes share a bus (on SQLite
# a separate worker process only polls, which is not how genq is meant to be deployed).
SETUPS = (
    ("in-process", "sqlite"),
    ("remote worker", "sqlite"),
    ("worker process", "postgres"),
    ("remote worker", "postgres"),
)
QUEUES = ["--queue", BACKLOG, "--queue", LATENCY]


@contextlib.contextmanager
def _running(setup: str, url: str, tmp: Path) -> Iterator[int]:
    """The set-up running on ``url``; yields the API's port."""
    port = free_port()
    split = [] if setup == "in-process" else ["--no-workers"]
    serve = genq("serve", "--db", url, "--port", str(port), *QUEUES, *split)
    with process(serve, log=tmp / "serve.log"):
        wait_http(port)
        if setup == "in-process":
            yield port
            return
        if setup == "worker process":
            args = genq("worker", "--db", url, *QUEUES, "--concurrency", "200")
        else:
            remote = ["--remote", f"http://127.0.0.1:{port}", "--token", "embedded-default"]
            args = genq("worker", *remote, *QUEUES, "--concurrency", "200")
        log = tmp / "worker.log"
        with process(args, log=log):
            deadline = time.monotonic() + 30
            while b"worker " not in log.read_bytes():  # "worker … on" / "remote worker …"
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{setup} did not start:\n{log.read_text()}")
                time.sleep(0.05)
            yield port


def _one_round(setup: str, store: str, backlog: int, tmp: Path) -> dict[str, float]:
    url = f"sqlite:///{tmp}/bench.db" if store == "sqlite" else fresh_pg_database("genq_remote")
    subprocess.run(genq("migrate", "--db", url), check=True, capture_output=True)
    # The backlog is queued before anything works the queue.
    port = free_port()
    with process(genq("serve", "--db", url, "--port", str(port), "--no-workers")):
        wait_http(port)
        body = {"jobs": [{"type": "noop", "queue": BACKLOG} for _ in range(1000)]}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for _ in range(backlog // 1000):
                assert c.post("/v1/jobs/batch", json=body).status_code == 201
    with _running(setup, url, tmp) as port:
        deadline = time.monotonic() + 300
        while _count(url, BACKLOG, "completed") < backlog:
            if time.monotonic() > deadline:
                raise RuntimeError("the backlog was not drained in 5 minutes")
            time.sleep(0.25)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            waited = _latency(c)
    first, last = _rows(
        url,
        select(func.min(jobs.c.started_at), func.max(jobs.c.finished_at)).where(
            jobs.c.queue == BACKLOG
        ),
    )[0]
    starts = [
        r[0] * 1000
        for r in _rows(
            url, select(jobs.c.started_at - jobs.c.created_at).where(jobs.c.queue == LATENCY)
        )
    ]
    return {
        "start_p50_ms": percentile(starts, 50),
        "start_p99_ms": percentile(starts, 99),
        "wait_p50_ms": percentile(waited, 50),
        "wait_p99_ms": percentile(waited, 99),
        "drain": backlog / (last - first),
    }


def _rows(url: str, stmt: Any) -> list[Any]:
    return asyncio.run(_query(url, stmt))


def _latency(c: httpx.Client, count: int = 150) -> list[float]:
    """Jobs one by one at about 50 a second; every other one a ``Prefer: wait`` request."""
    waited: list[float] = []
    next_at = time.monotonic()
    for i in range(count):
        body = {"type": "noop", "queue": LATENCY}
        if i % 2:
            t0 = time.perf_counter()
            job = c.post("/v1/jobs", json=body, headers={"Prefer": "wait=10"}).json()
            assert job["status"] == "completed", job
            waited.append((time.perf_counter() - t0) * 1000)
        else:
            assert c.post("/v1/jobs", json=body).status_code == 201
        next_at += 0.02
        time.sleep(max(0.0, next_at - time.monotonic()))
    return waited


def bench_remote(rounds: int, quick: bool) -> dict[str, dict[str, float]]:
    """Median figures of each set-up over ``rounds``, keyed "set-up, store"."""
    backlog = 2_000 if quick else 10_000
    out: dict[str, dict[str, float]] = {}
    for setup, store in SETUPS:
        runs = []
        for r in range(rounds):
            with tempfile.TemporaryDirectory() as tmpdir:
                runs.append(_one_round(setup, store, backlog, Path(tmpdir)))
            print(
                f"  {setup} ({store}) round {r + 1}: "
                + ", ".join(f"{k}={v:.1f}" for k, v in runs[-1].items()),
                flush=True,
            )
        out[f"{setup}, {store}"] = {k: median([run[k] for run in runs]) for k in runs[0]}
    return out
