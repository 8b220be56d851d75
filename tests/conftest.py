"""Shared fixtures: the two databases, settings for tests, and a real server on loopback.

Store, worker and API tests run against SQLite and PostgreSQL by parametrising ``db_url``.
PostgreSQL tests use a database of their own, created for the session and dropped after it.
With CI=true an unreachable PostgreSQL fails the run instead of skipping its tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from genq.api.app import create_app
from genq.node import Node
from genq.pipelines import default_registry
from genq.settings import Settings
from genq.store import make_store
from genq.store.migrate import upgrade
from genq.store.sql import SqlStore
from genq.worker.registry import Registry

PG_ADMIN_URL = os.environ.get("GENQ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_flush(db: int) -> bool:
    """Empty one Redis database; False if Redis does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
            return sock.recv(64).startswith(b"+OK")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """A Redis database of its own for this test (emptied first)."""
    db = 13
    if not _redis_flush(db):
        if IN_CI:
            pytest.fail("Redis is required in CI but 127.0.0.1:6379 does not answer")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/{db}"


def _require_pg() -> None:
    if not _pg_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")


async def pg_admin(sql: str) -> None:
    """Run one statement as the PostgreSQL admin (outside any test database)."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def _pg_scratch_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped when the block ends."""
    name = f"genq_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test session, migrated; dropped at the end."""
    _require_pg()

    async def migrate(url: str) -> None:
        store = make_store(url)
        assert isinstance(store, SqlStore)
        await store.open()
        try:
            await upgrade(store)
        finally:
            await store.close()

    with _pg_scratch_database() as url:
        asyncio.run(migrate(url))
        yield url


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "TRUNCATE genq_jobs, genq_job_events, genq_idempotency_keys, genq_api_keys,"
            " genq_credit_accounts, genq_credit_ledger, genq_exams, genq_exam_questions,"
            " genq_courses, genq_lessons, genq_job_checkpoints, genq_workers RESTART IDENTITY"
        )
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, migrated database of each kind (SQLite file; PostgreSQL truncated)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/genq.db"

        async def migrate() -> None:
            store = make_store(url)
            assert isinstance(store, SqlStore)
            await store.open()
            await upgrade(store)
            await store.close()

        asyncio.run(migrate())
        yield url
    else:
        url = request.getfixturevalue("pg_database")
        asyncio.run(_truncate(url))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_databases(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, str]]:
    """Two new, empty databases of each kind, dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
        return
    _require_pg()
    with _pg_scratch_database() as a, _pg_scratch_database() as b:
        yield a, b


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    """An open store on ``db_url``."""
    s = make_store(db_url)
    assert isinstance(s, SqlStore)
    await s.open()
    yield s
    await s.close()


def make_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings with short intervals, so tests never wait on production timings."""
    values: dict[str, Any] = {
        "db_url": db_url,
        "lease_s": 5.0,
        "heartbeat_s": 0.5,
        "poll_s": 0.2,
        "reaper_interval_s": 0.2,
        "progress_interval_s": 0.05,
        "shutdown_grace_s": 2.0,
        "sse_heartbeat_s": 15.0,
        "sse_resync_s": 0.5,
        "auto_migrate": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningServer:
    """A genq server listening on a loopback port of this test's event loop."""

    url: str
    node: Node
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for this server."""
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)


ServerFactory = Callable[..., Awaitable[RunningServer]]


def listening_socket() -> socket.socket:
    """A socket bound to a free loopback port, for a server started in the test's loop.

    Its protocol is given as TCP: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    on sockets that say so, and a plain ``socket.socket()`` says 0. With Nagle on, a
    response written in two parts waits for the client's delayed ACK: 40 ms a request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def start_server(db_url: str, tmp_path: Any) -> AsyncIterator[ServerFactory]:
    """Start genq servers on free loopback ports; all are stopped after the test."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None], Node]] = []

    async def start(registry: Registry | None = None, **overrides: Any) -> RunningServer:
        values = {"db_url": db_url, "blob_dir": str(tmp_path / "files"), **overrides}
        settings = make_settings(**values)
        node = Node(
            settings,
            registry or default_registry(),
            workers=settings.run_workers,
            serve_events=True,
        )
        app = create_app(settings, node=node)
        sock = listening_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        running.append((server, task, node))
        return RunningServer(f"http://127.0.0.1:{port}", node, server)

    yield start
    for server, task, node in reversed(running):
        node.hub.close_all()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app (a fake of some outside service) on a free loopback port; yields
    its base URL."""
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        server.force_exit = True  # a fake may be holding a request open on purpose
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
