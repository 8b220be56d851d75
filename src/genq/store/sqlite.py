"""SQLite store: one file in WAL mode, writers serialised in-process to avoid busy waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from genq.store.sql import SqlStore


class SqliteStore(SqlStore):
    """Store on a SQLite file (or ``:memory:`` for throwaway use)."""

    dialect = "sqlite"
    _write_options = {"genq_write": True}

    def __init__(self, url: str, busy_timeout_ms: int = 10_000) -> None:
        super().__init__(url)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = asyncio.Lock()

    def _create_engine(self) -> AsyncEngine:
        engine = create_async_engine(
            self.url, poolclass=AsyncAdaptedQueuePool, pool_size=4, max_overflow=4
        )
        timeout = self.busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so that BEGIN IMMEDIATE below is ours.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(timeout)}")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the lock at BEGIN, not at their first write, so two processes never
            # deadlock upgrading read locks; readers use plain deferred transactions.
            mode = "IMMEDIATE" if conn.get_execution_options().get("genq_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def _insert(self, table: Any) -> Any:
        return sqlite_insert(table)

    @asynccontextmanager
    async def _write_lock(self) -> AsyncIterator[None]:
        async with self._lock:
            yield
