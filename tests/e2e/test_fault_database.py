"""Fault injection: PostgreSQL taken away under load, then given back.

An API process and a worker process work while clients submit jobs. The database then
refuses connections and every genq session is terminated (``pg_terminate_backend``); a
few seconds later it accepts them again. While it is away the API answers 503 in the
standard envelope; afterwards it recovers by itself, without a restart, and every job it
accepted with a 201 is there and gets done.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from genq.domain.states import JobStatus
from genq.node import Node
from genq.pipelines import default_registry
from tests.conftest import make_settings, pg_admin

OUTAGE_S = 3.0


async def _cut(database: str) -> None:
    """Refuse new connections to ``database`` and end every open one."""
    await pg_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    await pg_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )


async def _restore(database: str) -> None:
    await pg_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


@pytest.mark.timeout(120)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_api_answers_503_while_the_database_is_away_and_recovers_losing_nothing(
    db_url: str, spawn_api: Any, spawn_worker: Any
) -> None:
    database = db_url.rsplit("/", 1)[1]
    api = spawn_api("api")
    worker = spawn_worker("worker", concurrency=10)
    accepted: list[str] = []
    refused: list[dict[str, Any]] = []
    unexpected: list[tuple[int, bytes]] = []
    phase = {"name": "before"}
    accepted_after: list[str] = []
    stop = asyncio.Event()

    async def submit_forever(c: httpx.AsyncClient) -> None:
        while not stop.is_set():
            r = await c.post("/v1/jobs", json={"type": "noop"})
            if r.status_code == 201:
                accepted.append(r.json()["id"])
                if phase["name"] == "after":
                    accepted_after.append(r.json()["id"])
            elif r.status_code == 503:
                refused.append(r.json())
            else:
                unexpected.append((r.status_code, r.content))
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(base_url=api, timeout=30) as c:
        submitters = [asyncio.create_task(submit_forever(c)) for _ in range(4)]
        try:
            await asyncio.sleep(1.0)
            await _cut(database)
            phase["name"] = "outage"
            try:
                await asyncio.sleep(OUTAGE_S / 2)
                ready = await c.get("/readyz")
                await asyncio.sleep(OUTAGE_S / 2)
            finally:
                await _restore(database)
            phase["name"] = "after"
            deadline = time.monotonic() + 30
            while len(accepted_after) < 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*submitters)
        ready_after = await c.get("/readyz")

    assert unexpected == []
    assert ready.status_code == 503
    assert ready.json()["code"] == "SERVICE_UNAVAILABLE", ready.text
    assert refused, "no request was refused while the database was away"
    for body in refused:
        assert (
            {"error", "message", "code", "timestamp"}
            <= set(body)
            <= {
                "error",
                "message",
                "code",
                "timestamp",
                "details",
            }
        )
        assert body["code"] == "SERVICE_UNAVAILABLE"
    assert len(accepted_after) >= 20, "the API did not recover by itself"
    assert ready_after.status_code == 200

    # Every accepted job is in the store, and the worker (which lost its connections too)
    # finishes every one of them.
    node = Node(make_settings(db_url), default_registry(), workers=False, serve_events=False)
    await node.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = [await node.store.get_job(i) for i in accepted]
            if all(j is not None and j.status == JobStatus.COMPLETED for j in jobs):
                break
            await asyncio.sleep(0.25)
        assert all(j is not None for j in jobs), "an accepted job was lost"
        assert {j.status for j in jobs if j} == {JobStatus.COMPLETED}
    finally:
        await node.stop()
    assert worker.poll() is None
