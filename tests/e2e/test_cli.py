"""The command line against real processes: serve on a fresh file, submit --watch, jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, ServerFactory, free_port


async def genq_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "genq.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


@pytest.fixture
async def server(start_server: ServerFactory) -> RunningServer:
    return await start_server()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_submit_watch_follows_the_job_and_exits_by_outcome(server: RunningServer) -> None:
    code, out = await genq_cli(
        "submit", "demo.steps", "-p", "steps=2", "-p", "step_ms=20", "--watch", "--url", server.url
    )
    assert code == 0, out
    assert "▶ prepare" in out
    assert "✔ analyse" in out
    assert "completed" in out
    code, out = await genq_cli(
        "submit",
        "demo.steps",
        "-p",
        "steps=1",
        "-p",
        "step_ms=1",
        "-p",
        "fail_step=1",
        "--watch",
        "--url",
        server.url,
    )
    assert code == 1, out
    assert "DEMO_FAILURE" in out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_jobs_commands_and_errors(server: RunningServer) -> None:
    code, out = await genq_cli("submit", "noop", "--delay", "3600", "--url", server.url)
    assert code == 0, out
    job_id = out.split('"id": "')[1].split('"')[0]
    code, out = await genq_cli("jobs", "list", "--url", server.url)
    assert code == 0
    assert job_id in out
    code, out = await genq_cli("jobs", "cancel", job_id, "--url", server.url)
    assert code == 0
    assert "cancelled" in out
    code, out = await genq_cli("jobs", "cancel", job_id, "--url", server.url)
    assert code == 2
    assert "INVALID_TRANSITION" in out
    code, out = await genq_cli("submit", "nope", "--url", server.url)
    assert code == 2
    assert "INVALID_REQUEST" in out
    assert "demo.steps" in out
    code, out = await genq_cli("queues", "--url", server.url)
    assert code == 0
    assert "default" in out


def test_serve_starts_on_a_fresh_file_does_the_job_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "GENQ_DB_URL": f"sqlite:///{tmp_path}/fresh.db"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genq.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        job = httpx.post(
            f"{base}/v1/jobs", json={"type": "demo.steps", "params": {"steps": 2, "step_ms": 10}}
        ).json()
        for _ in range(200):
            if httpx.get(f"{base}/v1/jobs/{job['id']}").json()["status"] == "completed":
                break
            time.sleep(0.05)
        assert httpx.get(f"{base}/v1/jobs/{job['id']}").json()["status"] == "completed"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    # uvicorn re-raises the signal once its graceful shutdown is done, for supervisors.
    assert code in (0, -signal.SIGTERM)
    assert proc.stdout is not None
    assert "Application shutdown complete" in proc.stdout.read().decode()
    assert (tmp_path / "fresh.db").exists()
