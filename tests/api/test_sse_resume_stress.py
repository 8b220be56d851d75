"""Fault injection: a client that drops its SSE connection every few events, 1,000+ times.

A long job writes thousands of log events; the client reads one to three of them, hangs
up, and resumes with ``Last-Event-ID``, over and over until the terminal event. What it
saw must be the stored sequence exactly: no gap, no duplicate, in order.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from pydantic import BaseModel

from genq.pipelines import default_registry
from genq.worker.context import JobContext
from tests.api.test_sse import TERMINAL, collect, job_events, stored
from tests.conftest import ServerFactory

EVENTS = 2600
MIN_RECONNECTS = 1000


class ChattyParams(BaseModel):
    lines: int
    pause_ms: float


async def chatty(ctx: JobContext, params: ChattyParams) -> dict[str, int]:
    """A long job: ``lines`` log events, a short pause after each."""
    for i in range(params.lines):
        await ctx.log(f"line {i}")
        await asyncio.sleep(params.pause_ms / 1000)
    return {"lines": params.lines}


@pytest.mark.timeout(180)
async def test_dropping_and_resuming_a_thousand_times_loses_and_repeats_nothing(
    start_server: ServerFactory,
) -> None:
    registry = default_registry()
    registry.job("test.chatty", max_attempts=1)(chatty)
    server = await start_server(registry=registry)
    rng = random.Random(7)
    async with server.client() as c:
        body = {"type": "test.chatty", "params": {"lines": EVENTS, "pause_ms": 3}}
        job = (await c.post("/v1/jobs", json=body)).json()
        path = f"/v1/jobs/{job['id']}/events"
        got: list[tuple[int, str]] = []
        connections = 0
        while not got or got[-1][1] not in TERMINAL:
            last = str(got[-1][0]) if got else None
            got += job_events(await collect(c, path, last, stop_after=rng.randint(1, 3)))
            connections += 1
    expected = await stored(server, job["id"])
    assert len(expected) >= EVENTS + 3  # created, started, the lines, completed
    assert got == expected
    assert connections - 1 >= MIN_RECONNECTS
