"""Remote workers as real processes (``genq worker --remote``) against a ``genq serve``:
one is killed with SIGKILL in the middle of a job, and another worker finishes it."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from genq.node import Node
from tests.auth.conftest import AUTH_SETTINGS
from tests.conftest import ServerFactory
from tests.e2e.conftest import Spawn, wait_until
from tests.e2e.helpers import assert_well_formed
from tests.e2e.test_cli import genq_cli


def _remote_worker(
    spawn_genq: Spawn, tmp_path: Path, name: str, url: str, seconds: float
) -> subprocess.Popen[bytes]:
    proc = spawn_genq(
        name,
        "worker",
        "--remote",
        url,
        "--token",
        "embedded-default-admits-any",
        "--queue",
        "sdxl_queue",
        "--name",
        name,
        "--demo-seconds",
        str(seconds),
    )
    log = tmp_path / f"{name}.log"
    wait_until(proc, log, lambda: b"registered at" in log.read_bytes())
    return proc


async def _wait(
    c: httpx.AsyncClient, job_id: str, done: Any, timeout: float = 40
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = dict((await c.get(f"/v1/jobs/{job_id}")).json())
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job stayed {job['status']}"
        await asyncio.sleep(0.1)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_remote_worker_killed_mid_job_loses_it_to_another_that_completes_it(
    spawn_api: Spawn, spawn_genq: Spawn, tmp_path: Path, client_node: Node
) -> None:
    url = spawn_api("api")
    slow = _remote_worker(spawn_genq, tmp_path, "slow", url, seconds=60)
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        params = {"prompt": "a lighthouse at night"}
        answer = await c.post("/v1/jobs", json={"type": "sdxl_image_fast", "params": params})
        job_id = answer.json()["id"]
        # The slow worker is into its render when it dies.
        await _wait(c, job_id, lambda j: j["status"] == "running" and j["step"] == "render")
        _remote_worker(spawn_genq, tmp_path, "fast", url, seconds=0.2)
        slow.send_signal(signal.SIGKILL)
        slow.wait(10)

        done = await _wait(c, job_id, lambda j: j["status"] in ("completed", "failed"))
        assert done["status"] == "completed", done["error"]
        assert done["attempts"] == 2
        image = await c.get(done["result"]["url"])
        workers = (await c.get("/v1/workers")).json()["workers"]
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)
    kinds = await assert_well_formed(client_node, job_id)
    assert kinds.count("job_started") == 2
    assert kinds[-1] == "job_completed"
    events = await client_node.store.read_events(job_id, 0)
    assert [e.data["reason"] for e in events if e.type == "job_retrying"] == ["lease_expired"]
    status = {w["name"]: w["status"] for w in workers}
    assert status["fast"] == "healthy"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_remote_worker_says_what_is_wrong_with_its_start(
    start_server: ServerFactory,
) -> None:
    server = await start_server(**AUTH_SETTINGS)
    no_token = await genq_cli("worker", "--remote", server.url)
    bad_token = await genq_cli("worker", "--remote", server.url, "--token", "gq_not-a-key")
    assert no_token[0] == 2
    assert "--remote needs --token" in no_token[1]
    assert bad_token[0] == 2
    assert "refused the worker: 401 UNAUTHORIZED" in bad_token[1]
