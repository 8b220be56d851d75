"""Fixtures for tests with real genq processes: workers and a client-side node."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genq.node import Node
from genq.pipelines import default_registry
from tests.conftest import free_port, make_settings

Spawn = Any


@pytest.fixture
def spawn_genq(db_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start genq processes (``genq ARGS…``) on ``db_url`` with short test timings.

    Each one's output goes to ``tmp_path/NAME.log``; every process is killed after the test,
    whether it passed or not.
    """
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str, **env: Any) -> subprocess.Popen[bytes]:
        environ = {
            **os.environ,
            "GENQ_DB_URL": db_url,
            "GENQ_AUTO_MIGRATE": "false",
            "GENQ_LEASE_S": "2",
            "GENQ_HEARTBEAT_S": "0.4",
            "GENQ_POLL_S": "0.2",
            "GENQ_REAPER_INTERVAL_S": "0.3",
            "GENQ_SHUTDOWN_GRACE_S": "1",
            "GENQ_LOG_LEVEL": "info",
            **{f"GENQ_{k.upper()}": str(v) for k, v in env.items()},
        }
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "genq.cli", *args], env=environ, stdout=log, stderr=log
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(10)


def wait_until(proc: subprocess.Popen[bytes], log: Path, ready: Any) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"process did not become ready:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture
def spawn_worker(spawn_genq: Spawn, tmp_path: Path) -> Spawn:
    """Start a ``genq worker`` process and wait until it works."""

    def spawn(name: str, **env: Any) -> subprocess.Popen[bytes]:
        proc = spawn_genq(name, "worker", **env)
        log = tmp_path / f"{name}.log"
        wait_until(proc, log, lambda: b"worker " in log.read_bytes())
        return proc

    return spawn


@pytest.fixture
def spawn_api(spawn_genq: Spawn, tmp_path: Path) -> Spawn:
    """Start a ``genq serve --no-workers`` process; returns its base URL once it is ready."""

    def spawn(name: str, **env: Any) -> str:
        port = free_port()
        proc = spawn_genq(name, "serve", "--no-workers", "--port", str(port), **env)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(proc, tmp_path / f"{name}.log", ready)
        return url

    return spawn


@pytest.fixture
async def client_node(db_url: str) -> AsyncIterator[Node]:
    """A node with no workers: the test's way to submit and inspect jobs."""
    node = Node(make_settings(db_url), default_registry(), workers=False, serve_events=False)
    await node.start()
    yield node
    await node.stop()
