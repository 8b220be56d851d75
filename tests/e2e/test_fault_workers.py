"""Fault injection: worker processes killed at random moments while they work.

Three ``genq worker`` processes on one PostgreSQL database run 200 jobs of random length;
a killer sends SIGKILL to a random worker at random moments and starts a new one in its
place. Every job must end completed, with its result recorded once and a well-formed
event stream, and nothing may be left running.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from typing import Any

import pytest

from genq.domain.states import JobStatus
from genq.node import Node
from genq.service.jobs import SubmitRequest
from tests.e2e.helpers import assert_well_formed

JOBS = 200
WORKERS = 3
MIN_KILLS = 6


@pytest.mark.timeout(240)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_random_sigkills_lose_no_job_and_record_each_result_once(
    client_node: Node, spawn_worker: Any
) -> None:
    rng = random.Random(20261123)
    workers = [spawn_worker(f"w{i}", concurrency=8) for i in range(WORKERS)]
    requests = [
        SubmitRequest(
            type="demo.steps",
            params={"steps": rng.randint(1, 4), "step_ms": rng.randint(40, 400)},
            max_attempts=50,  # kills, not the jobs, cause these retries
        )
        for _ in range(JOBS)
    ]
    results, _ = await client_node.jobs.submit("u", requests)
    ids = [r.job.id for r in results]
    expected = {r.job.id: req.params["steps"] for r, req in zip(results, requests, strict=True)}

    kills = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        counts = {s: n for _, _, s, n in await client_node.store.count_jobs(None)}
        if counts.get(JobStatus.COMPLETED.value, 0) == JOBS:
            break
        if kills < MIN_KILLS or rng.random() < 0.3:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            victim = rng.randrange(WORKERS)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait(10)
            kills += 1
            workers[victim] = spawn_worker(f"w{victim}-{kills}", concurrency=8)
        else:
            await asyncio.sleep(0.5)
    counts = {s: n for _, _, s, n in await client_node.store.count_jobs(None)}
    assert counts == {"completed": JOBS}, counts
    assert kills >= MIN_KILLS

    retried = 0
    for job_id in ids:
        job = await client_node.store.get_job(job_id)
        assert job is not None
        assert job.result["steps"] == expected[job_id]
        kinds = await assert_well_formed(client_node, job_id)
        assert kinds.count("job_completed") == 1
        assert kinds.count("job_started") == job.attempts
        retried += job.attempts > 1
    # The kills landed on running jobs, which other workers then finished.
    assert retried > 0
