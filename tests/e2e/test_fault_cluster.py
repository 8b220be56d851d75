"""Several genq processes on one PostgreSQL database: events cross processes.

Two API processes and two worker processes, each its own OS process; a job submitted
through API B is run by one of the workers, and a client watching it through API A sees
every one of its events, in order, ending on the terminal event.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from genq.client import SSEDecoder
from genq.node import Node

TERMINAL = {"job_completed", "job_failed", "job_cancelled"}


async def watch(url: str, job_id: str, opened: asyncio.Event) -> list[tuple[int, str]]:
    """Every job event of the stream, until its terminal event."""
    decoder = SSEDecoder()
    seen: list[tuple[int, str]] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as c,
        c.stream("GET", f"/v1/jobs/{job_id}/events") as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            for m in decoder.feed(chunk):
                if m.event == "snapshot":
                    opened.set()
                    continue
                seen.append((int(m.id or 0), m.event))
                if m.event in TERMINAL:
                    return seen
    return seen


@pytest.mark.timeout(120)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_watcher_on_one_api_process_sees_a_job_run_by_workers_elsewhere(
    spawn_api: Any, spawn_worker: Any, client_node: Node
) -> None:
    api_a, api_b = spawn_api("api-a"), spawn_api("api-b")
    workers = [spawn_worker("w1", concurrency=2), spawn_worker("w2", concurrency=2)]
    async with httpx.AsyncClient(base_url=api_b, timeout=30) as b:
        # Submitted delayed, so the watcher is attached before the first live event.
        body = {"type": "demo.steps", "params": {"steps": 5, "step_ms": 120}, "delay_s": 1.0}
        job = (await b.post("/v1/jobs", json=body)).json()
        opened = asyncio.Event()
        watcher = asyncio.create_task(watch(api_a, job["id"], opened))
        await asyncio.wait_for(opened.wait(), 10)
        seen = await asyncio.wait_for(watcher, 60)
        # The store's own account, read through the other API process.
        final = (await b.get(f"/v1/jobs/{job['id']}")).json()
        replay = await watch(api_b, job["id"], asyncio.Event())
    assert final["status"] == "completed"
    assert seen == replay
    assert [seq for seq, _ in seen] == list(range(1, len(seen) + 1))
    kinds = [kind for _, kind in seen]
    assert kinds[0] == "job_created"
    assert kinds[-1] == "job_completed"
    assert kinds.count("step_completed") == 5
    # The job ran in one of the worker processes, not in either API process.
    events = await client_node.store.read_events(job["id"], 0)
    runner = next(e.data["worker"] for e in events if e.type == "job_started")
    assert any(f":{w.pid}:" in runner for w in workers)
