"""Real worker processes: killed, stopped and running side by side, on both databases."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from genq.domain.states import JobStatus
from genq.node import Node
from genq.service.jobs import SubmitRequest
from tests.e2e.helpers import assert_well_formed, wait_for

Spawn = Any


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
