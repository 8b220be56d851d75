"""The worker runtime end to end, in process, on both databases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from genq.domain.errors import JobError, NonRetryableError, StoreUnavailable
from genq.domain.job import Job
from genq.domain.retry import RetryPolicy
from genq.domain.states import JobStatus
from genq.node import Node
from genq.pipelines import register_builtin
from genq.service.jobs import SubmitRequest
from genq.worker.context import JobContext
from genq.worker.maintenance import Reaper
from genq.worker.registry import Registry
from genq.worker.runtime import Worker
from tests.conftest import make_settings

FAST = RetryPolicy(base_s=0.05, factor=1, cap_s=0.05, jitter=0)


class Sleep(BaseModel):
    seconds: float = 0.0
    ticks: int = 0


def registry() -> Registry:
    r = Registry()
    register_builtin(r)
    attempts: dict[str, int] = {}

    @r.job("flaky", max_attempts=3, retry=FAST)
    async def flaky(ctx: JobContext, params: dict[str, Any]) -> dict[str, int]:
        attempts[ctx.job_id] = attempts.get(ctx.job_id, 0) + 1
        if attempts[ctx.job_id] < int(params.get("succeed_on", 99)):
            raise JobError("not yet", code="FLAKY")
        return {"attempt": ctx.attempt}

    @r.job("fatal", max_attempts=5, retry=FAST)
    async def fatal(ctx: JobContext, params: dict[str, Any]) -> None:
        raise NonRetryableError("bad input", code="BAD_INPUT")

    @r.job("slow", max_attempts=2, retry=FAST, timeout_s=0.2)
    async def slow(ctx: JobContext, params: Sleep) -> None:
        await asyncio.sleep(params.seconds)

    @r.job("sleepy", max_attempts=1)
    async def sleepy(ctx: JobContext, params: Sleep) -> str:
        for i in range(params.ticks):
            await ctx.progress(i * 100 / max(params.ticks, 1))
        try:
            await asyncio.sleep(params.seconds)
        except asyncio.CancelledError:
            await ctx.log("cleaning up")
            raise
        return "slept"

    return r


@pytest.fixture
async def node(db_url: str) -> AsyncIterator[Node]:
    n = Node(make_settings(db_url), registry(), workers=True, serve_events=True)
    await n.start()
    yield n
    await n.stop(grace_s=1)


async def submit(node: Node, type_: str, **params: Any) -> str:
    results, _ = await node.jobs.submit("u", [SubmitRequest(type=type_, params=params)])
    return results[0].job.id


async def until(node: Node, job_id: str, *statuses: JobStatus, timeout: float = 15) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await node.store.get_job(job_id)
        if job is not None and job.status in statuses:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


async def types_of(node: Node, job_id: str) -> list[str]:
    return [e.type for e in await node.store.read_events(job_id, 0)]


async def test_demo_steps_runs_to_completion_with_step_events(node: Node) -> None:
    job_id = await submit(node, "demo.steps", steps=2, step_ms=40)
    job = await until(node, job_id, JobStatus.COMPLETED)
    assert job.result == {"steps": 2, "names": ["prepare", "analyse"]}
    assert job.progress == 100
    kinds = await types_of(node, job_id)
    assert kinds[:3] == ["job_created", "job_started", "step_started"]
    assert kinds.count("step_started") == kinds.count("step_completed") == 2
    assert kinds[-1] == "job_completed"


async def test_failures_back_off_then_succeed(node: Node) -> None:
    job_id = await submit(node, "flaky", succeed_on=3)
    job = await until(node, job_id, JobStatus.COMPLETED)
    assert job.attempts == 3
    assert job.result == {"attempt": 3}
    assert (await types_of(node, job_id)).count("job_retrying") == 2


async def test_the_last_failure_fails_the_job_with_its_code(node: Node) -> None:
    job_id = await submit(node, "flaky")
    job = await until(node, job_id, JobStatus.FAILED)
    assert job.attempts == 3
    assert job.error is not None
    assert job.error["code"] == "FLAKY"
    assert (await types_of(node, job_id))[-1] == "job_failed"


async def test_a_non_retryable_error_fails_at_once(node: Node) -> None:
    job = await until(node, await submit(node, "fatal"), JobStatus.FAILED)
    assert job.attempts == 1
    assert job.error is not None
    assert job.error["code"] == "BAD_INPUT"


async def test_a_timed_out_attempt_fails_with_timeout(node: Node) -> None:
    job = await until(node, await submit(node, "slow", seconds=5), JobStatus.FAILED)
    assert job.attempts == 2
    assert job.error is not None
    assert job.error["code"] == "TIMEOUT"


async def test_cancelling_a_running_job_ends_it_cancelled_after_cleanup(node: Node) -> None:
    job_id = await submit(node, "sleepy", seconds=30)
    await until(node, job_id, JobStatus.RUNNING)
    job = await node.jobs.cancel(job_id, "user asked")
    assert job.status == JobStatus.RUNNING
    assert job.cancel_requested_at is not None
    job = await until(node, job_id, JobStatus.CANCELLED)
    kinds = await types_of(node, job_id)
    assert kinds[-2:] == ["log", "job_cancelled"]
    events = await node.store.read_events(job_id, 0)
    assert events[-1].data["reason"] == "user asked"


async def test_tight_progress_loops_are_coalesced(node: Node) -> None:
    job_id = await submit(node, "sleepy", ticks=20_000)
    job = await until(node, job_id, JobStatus.COMPLETED)
    progress = [e for e in await node.store.read_events(job_id, 0) if e.type == "step_progress"]
    assert 1 <= len(progress) < 50
    assert job.result == "slept"


async def test_a_delayed_job_runs_after_its_delay(node: Node) -> None:
    results, _ = await node.jobs.submit("u", [SubmitRequest(type="noop", delay_s=0.3)])
    job = results[0].job
    assert job.status == JobStatus.DELAYED
    done = await until(node, job.id, JobStatus.COMPLETED)
    assert done.started_at is not None
    assert done.started_at >= job.run_at


async def test_graceful_stop_returns_unfinished_jobs_to_the_queue(db_url: str) -> None:
    n = Node(make_settings(db_url), registry(), workers=True, serve_events=False)
    await n.start()
    long_id = await submit(n, "sleepy", seconds=30)
    short_id = await submit(n, "sleepy", seconds=0.3)
    await until(n, long_id, JobStatus.RUNNING)
    await until(n, short_id, JobStatus.RUNNING)
    await n.stop(grace_s=1.0)
    await n.store.open()
    try:
        short, long_ = await n.store.get_job(short_id), await n.store.get_job(long_id)
        assert short is not None
        assert short.status == JobStatus.COMPLETED
        assert long_ is not None
        assert long_.status == JobStatus.QUEUED
        assert long_.max_attempts == 2  # the interrupted attempt was given back
        last = (await n.store.read_events(long_id, 0))[-1]
        assert last.type == "job_retrying"
        assert last.data["reason"] == "shutdown"
    finally:
        await n.store.close()


async def test_a_job_stopped_before_its_task_starts_is_still_given_back(db_url: str) -> None:
    # A task cancelled before its first step runs none of its code; the runtime must still
    # write the outcome rather than leave the job leased until the reaper finds it.
    n = Node(make_settings(db_url), registry(), workers=False, serve_events=False)
    await n.start()
    try:
        worker = Worker(n.store, n.bus, n.registry)
        worker.writer.start()
        shut, cancelled = await submit(n, "sleepy"), await submit(n, "sleepy")
        claimed, _ = await n.store.claim_jobs(["default"], worker.name, 2, 30)
        assert {j.id for j in claimed} == {shut, cancelled}
        for job in claimed:
            worker._spawn(job)
        # No await between spawning and stopping: neither task has started.
        worker._stop_job(shut, "shutdown")
        worker._stop_job(cancelled, "cancel", "changed my mind")
        await asyncio.gather(*(r.task for r in worker._running.values()))
        await worker.writer.close()
        given_back = await n.store.get_job(shut)
        assert given_back is not None
        assert given_back.status == JobStatus.QUEUED
        assert given_back.max_attempts == 2  # the attempt that never ran is not charged
        gone = await n.store.get_job(cancelled)
        assert gone is not None
        assert gone.status == JobStatus.CANCELLED
    finally:
        await n.stop()


async def test_the_reaper_waits_a_lease_after_the_database_was_away(db_url: str) -> None:
    # No worker could renew while the database was away: their leases get one more
    # lease period before the reaper takes their jobs.
    n = Node(make_settings(db_url), registry(), workers=False, serve_events=False)
    await n.start()
    try:
        job_id = await submit(n, "sleepy")
        await n.store.claim_jobs(["default"], "gone-worker", 1, lease_s=0.0)
        reaper = Reaper(n.store, n.bus, lease_s=0.5)
        real = n.store.expired_attempts

        async def away(now: float, limit: int) -> list[Job]:
            raise StoreUnavailable("database away")

        n.store.expired_attempts = away  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailable):
            await reaper.run_once()
        n.store.expired_attempts = real  # type: ignore[method-assign]
        assert await reaper.run_once() == 0  # back, but within the lease's grace
        job = await n.store.get_job(job_id)
        assert job is not None
        assert job.status == JobStatus.RUNNING
        await asyncio.sleep(0.6)
        assert await reaper.run_once() == 1
        job = await n.store.get_job(job_id)
        assert job is not None
        assert job.status == JobStatus.FAILED  # sleepy has one attempt
        assert job.error is not None
        assert job.error["code"] == "LEASE_EXPIRED"
    finally:
        await n.stop()
