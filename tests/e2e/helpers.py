"""Checks shared by the tests that run real genq processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from genq.domain.job import Job
from genq.node import Node


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
