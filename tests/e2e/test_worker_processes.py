"""Real worker processes: killed, stopped and running side by side, on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from genq.domain.job import Job
from genq.domain.states import JobStatus
from genq.node import Node
from genq.pipelines import default_registry
from genq.service.jobs import SubmitRequest
from tests.conftest import make_settings

Spawn = Any


@pytest.fixture
def spawn_worker(db_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``genq worker`` processes on ``db_url``; every one is killed after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, **env: Any) -> subprocess.Popen[bytes]:
        environ = {
            **os.environ,
            "GENQ_DB_URL": db_url,
            "GENQ_AUTO_MIGRATE": "false",
            "GENQ_LEASE_S": "2",
            "GENQ_HEARTBEAT_S": "0.4",
            "GENQ_POLL_S": "0.2",
            "GENQ_REAPER_INTERVAL_S": "0.3",
            "GENQ_SHUTDOWN_GRACE_S": "1",
            "GENQ_LOG_LEVEL": "info",
            **{f"GENQ_{k.upper()}": str(v) for k, v in env.items()},
        }
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "genq.cli", "worker"], env=environ, stdout=log, stderr=log
        )
        procs.append(proc)
        deadline = time.monotonic() + 30
        while b"worker " not in (tmp_path / f"{name}.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / f"{name}.log").read_text())
            time.sleep(0.05)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(10)


@pytest.fixture
async def client_node(db_url: str) -> AsyncIterator[Node]:
    """A node with no workers: the test's way to submit and inspect jobs."""
    node = Node(make_settings(db_url), default_registry(), workers=False, serve_events=False)
    await node.start()
    yield node
    await node.stop()


async def wait_for(node: Node, job_id: str, check: Any, timeout: float = 40) -> Job:
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = await node.store.get_job(job_id)
        if job is not None and check(job):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out; job is {job}")


async def assert_well_formed(node: Node, job_id: str) -> list[str]:
    events = await node.store.read_events(job_id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    terminal = [e for e in events if e.terminal]
    assert len(terminal) == 1
    assert terminal[0] is events[-1]
    return [e.type for e in events]


async def test_a_killed_worker_s_job_is_finished_by_another_worker(
    client_node: Node, spawn_worker: Spawn
) -> None:
    first = spawn_worker("first")
    results, _ = await client_node.jobs.submit(
        "u", [SubmitRequest(type="demo.steps", params={"steps": 6, "step_ms": 250})]
    )
    job_id = results[0].job.id
    running = await wait_for(
        client_node, job_id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0
    )
    assert running.lease_owner is not None
    assert f":{first.pid}:" in running.lease_owner
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = spawn_worker("second")
    done = await wait_for(client_node, job_id, lambda j: j.status == JobStatus.COMPLETED)
    assert done.attempts == 2
    assert done.lease_owner is not None
    assert f":{second.pid}:" in done.lease_owner
    kinds = await assert_well_formed(client_node, job_id)
    assert kinds.count("job_started") == 2
    retry = [e for e in await client_node.store.read_events(job_id, 0) if e.type == "job_retrying"]
    assert retry[0].data["reason"] == "lease_expired"
    counts = {s: n for _, _, s, n in await client_node.store.count_jobs(None)}
    assert counts == {"completed": 1}


async def test_sigterm_lets_short_jobs_finish_and_returns_the_rest(
    client_node: Node, spawn_worker: Spawn
) -> None:
    worker = spawn_worker("worker", shutdown_grace_s=1.0)
    requests = [
        SubmitRequest(type="demo.steps", params={"steps": 30, "step_ms": 400}) for _ in range(3)
    ]
    requests.append(SubmitRequest(type="demo.steps", params={"steps": 1, "step_ms": 400}))
    results, _ = await client_node.jobs.submit("u", requests)
    ids = [r.job.id for r in results]
    for job_id in ids:
        await wait_for(client_node, job_id, lambda j: j.status == JobStatus.RUNNING)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    jobs = [await client_node.store.get_job(i) for i in ids]
    assert [j.status for j in jobs if j] == [JobStatus.QUEUED] * 3 + [JobStatus.COMPLETED]
    for job_id in ids[:3]:
        last = (await client_node.store.read_events(job_id, 0))[-1]
        assert last.type == "job_retrying"
        assert last.data["reason"] == "shutdown"
    await assert_well_formed(client_node, ids[3])


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_workers_on_postgres_never_run_an_attempt_twice(
    client_node: Node, spawn_worker: Spawn
) -> None:
    a = spawn_worker("a", concurrency=25)
    b = spawn_worker("b", concurrency=25)
    results, _ = await client_node.jobs.submit(
        "u", [SubmitRequest(type="noop") for _ in range(1000)]
    )
    ids = [r.job.id for r in results]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = {s: n for _, _, s, n in await client_node.store.count_jobs(None)}
        if counts.get("completed") == 1000:
            break
        await asyncio.sleep(0.2)
    assert counts.get("completed") == 1000, counts
    owners: dict[str, int] = {}
    for job_id in ids:
        events = await client_node.store.read_events(job_id, 0)
        started = [e for e in events if e.type == "job_started"]
        assert [e.type for e in events] == ["job_created", "job_started", "job_completed"]
        assert [e.data["attempt"] for e in started] == [1]
        worker = started[0].data["worker"]
        owners[worker] = owners.get(worker, 0) + 1
    assert len(owners) == 2, owners
    assert any(f":{a.pid}:" in w for w in owners)
    assert any(f":{b.pid}:" in w for w in owners)
