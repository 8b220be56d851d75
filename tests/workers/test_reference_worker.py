"""The reference remote worker (genq's worker runtime over the HTTP protocol) against a
real genq server on loopback: seed 004 jobs rendered and stored, cancels, graceful stops
that give jobs back, and outcomes decided by the server's retry policy."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from PIL import Image

from genq.domain.errors import JobError, NonRetryableError
from genq.pipelines import default_registry
from genq.pipelines.gpu import register_gpu
from genq.providers import Providers, make_providers
from genq.settings import Settings
from genq.worker.context import JobContext
from genq.worker.maintenance import HealthChecker
from genq.worker.registry import JobType, Registry
from genq.worker.remote import RemoteOptions, RemoteRunner
from tests.api.test_sse import collect
from tests.auth.conftest import AUTH_SETTINGS, bearer, token
from tests.conftest import RunningServer, ServerFactory, free_port
from tests.workers.test_protocol import register, worker_key

ADMIN = bearer(token("root", role="admin"))
ALICE = bearer(token("alice"))
StartRunner = Callable[..., Awaitable[RemoteRunner]]


def demo_providers() -> Providers:
    return make_providers(Settings(provider="demo"))


@pytest.fixture
async def start_runner() -> AsyncIterator[StartRunner]:
    """Start reference remote workers in this process; all are stopped after the test."""
    runners: list[RemoteRunner] = []

    async def start(
        server: RunningServer,
        registry: Registry | None = None,
        seconds: float = 0.2,
        **options: Any,
    ) -> RemoteRunner:
        if registry is None:
            registry = default_registry()
            register_gpu(registry, seconds=seconds)
        key = (await worker_key(server, f"key-{len(runners)}"))["X-API-Key"]
        opts = RemoteOptions(server.url, key, **{"claim_wait_s": 0.3, **options})
        runner = RemoteRunner(opts, registry, demo_providers())
        await runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        await runner.stop(0)


async def submit(server: RunningServer, job_type: str, **params: Any) -> dict[str, Any]:
    async with server.client() as c:
        answer = await c.post("/v1/jobs", json={"type": job_type, "params": params}, headers=ALICE)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def wait_for(server: RunningServer, job_id: str, *statuses: str) -> dict[str, Any]:
    async with server.client() as c:
        for _ in range(300):
            job = (await c.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
            if job["status"] in statuses:
                return dict(job)
            await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job['status']}")


async def test_seed_004_image_is_rendered_stored_and_streamed(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS, heartbeat_s=0.5, worker_health_interval_s=0.2)
    runner = await start_runner(server, queues=["sdxl_queue"], health_host="127.0.0.1")
    job = await submit(server, "sdxl_image_fast", prompt="a lighthouse in a storm")
    async with server.client(headers=ALICE) as watcher:
        messages = await collect(watcher, f"/v1/jobs/{job['id']}/events")
        done = (await watcher.get(f"/v1/jobs/{job['id']}")).json()
        result = done["result"]
        image = await watcher.get(result["url"])
        registry = (await watcher.get("/v1/workers", headers=ADMIN)).json()["workers"]
    kinds = [m.event for m in messages if m.event != "snapshot"]
    assert kinds[:2] == ["job_created", "job_started"]
    assert kinds[-1] == "job_completed"
    assert [
        orjson.loads(m.data)["data"]["step"] for m in messages if m.event == "step_started"
    ] == ["load", "render", "upload"]
    assert "step_progress" in kinds
    assert "log" in kinds
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert result["kind"] == "image"
    assert result["provider"] == "demo"
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)
    (me,) = registry
    assert me["id"] == runner.worker_id
    assert me["status"] == "healthy"
    assert me["healthUrl"].startswith("http://127.0.0.1:")
    assert me["health"]["ok"] is True
    assert me["health"]["status"] == 200


async def test_a_worker_whose_health_url_fails_is_unhealthy(start_server: ServerFactory) -> None:
    server = await start_server(**AUTH_SETTINGS, worker_health_interval_s=0.1)
    key = await worker_key(server)
    async with server.client() as c:
        await register(c, key, health_url=f"http://127.0.0.1:{free_port()}/health")
        for _ in range(100):
            (seen,) = (await c.get("/v1/workers", headers=ADMIN)).json()["workers"]
            if seen["health"] is not None:
                break
            await asyncio.sleep(0.05)
    assert seen["health"]["ok"] is False
    assert seen["health"]["error"] == "ConnectError"
    assert seen["status"] == "unhealthy"  # heard from a moment ago, but not well


async def test_a_video_job_is_an_animated_gif_of_its_frames(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS)
    await start_runner(server, queues=["wan_queue"])
    job = await submit(server, "video_fast", prompt="waves rolling onto a beach")
    done = await wait_for(server, job["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    async with server.client() as c:
        video = await c.get(done["result"]["url"])
    gif = Image.open(io.BytesIO(video.content))
    assert (gif.format, gif.size, gif.n_frames) == ("GIF", (480, 270), 16)


async def test_a_cancel_reaches_the_remote_worker_through_its_heartbeat(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS, heartbeat_s=0.2)
    await start_runner(server, seconds=30)
    job = await submit(server, "sdxl_image_high", prompt="a slow render")
    await wait_for(server, job["id"], "running")
    async with server.client() as c:
        asked = await c.post(
            f"/v1/jobs/{job['id']}/cancel", json={"reason": "bored"}, headers=ALICE
        )
    assert asked.status_code == 202, asked.text
    done = await wait_for(server, job["id"], "cancelled", "completed", "failed")
    assert done["status"] == "cancelled"
    assert done["cancel_reason"] == "bored"


async def test_a_stopping_worker_gives_its_job_back_for_another_to_finish(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS)
    first = await start_runner(server, seconds=30)
    job = await submit(server, "sdxl_image_fast", prompt="handed over")
    await wait_for(server, job["id"], "running")
    await first.stop(0)  # no grace: the running job is released at once
    back = await wait_for(server, job["id"], "queued")
    assert back["attempts"] == 1
    assert back["max_attempts"] == 4
    await start_runner(server, seconds=0.1)
    done = await wait_for(server, job["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert done["attempts"] == 2


def flaky_registry(calls: list[int]) -> Registry:
    registry = Registry()

    async def flaky(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise JobError("GPU out of memory", code="CUDA_OOM")
        if params.get("give_up"):
            raise NonRetryableError("the prompt cannot be drawn", code="UNDRAWABLE")
        return {"attempt": ctx.attempt}

    registry.add(JobType("flaky", flaky, queue="gpu"))
    return registry


async def test_the_servers_retry_policy_decides_what_a_failure_means(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS, remote_job_types={"flaky": "gpu"})
    calls: list[int] = []
    await start_runner(server, registry=flaky_registry(calls), queues=["gpu"])
    retried = await submit(server, "flaky")
    done = await wait_for(server, retried["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert done["result"] == {"attempt": 2}
    refused = await submit(server, "flaky", give_up=True)
    failed = await wait_for(server, refused["id"], "failed", "completed")
    assert failed["error"]["code"] == "UNDRAWABLE"
    assert failed["attempts"] == 2
    assert calls == [1, 2, 1, 2]


async def test_a_worker_the_server_forgot_registers_again_and_goes_on(
    start_server: ServerFactory, start_runner: StartRunner
) -> None:
    server = await start_server(**AUTH_SETTINGS)
    runner = await start_runner(server, seconds=0.1)
    forgotten = runner.worker_id
    runner.link.worker_id = "00000000-0000-0000-0000-000000000000"  # as after a reset
    job = await submit(server, "sdxl_image_fast", prompt="after the reset")
    done = await wait_for(server, job["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert runner.worker_id not in (forgotten, "00000000-0000-0000-0000-000000000000")


async def test_workers_gone_for_the_retention_leave_the_registry(
    start_server: ServerFactory,
) -> None:
    server = await start_server(**AUTH_SETTINGS, worker_retention_s=60)
    key = await worker_key(server)
    async with server.client() as c:
        old = await register(c, key)
        busy = await register(c, key)
        fresh = await register(c, key)
        await submit(server, "sdxl_image_fast", prompt="held by a silent worker")
        await c.post(f"/v1/workers/{busy}/claim", json={"wait_s": 0}, headers=key)
    store = server.node.store
    long_ago = time.time() - 120
    for wid in (old, busy):
        await store.touch_worker(wid, long_ago)
    checker = HealthChecker(store, 30, 1, retention_s=60)
    await checker.run_once()
    await checker.stop()
    left, _ = await store.list_workers()
    # The silent worker still holding a job stays until the reaper has taken its job.
    assert {w.id for w in left} == {busy, fresh}
