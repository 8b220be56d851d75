"""SQLite store: one file in WAL mode, writers serialised in-process to avoid busy waits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from genq.store.schema import job_events, jobs
from genq.store.sql import SqlStore


@cache
def _bulk_insert_sql_for(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


def _bulk_insert_sql(table: Table, row: dict[str, Any]) -> str:
    """An INSERT of ``row``'s columns with named parameters, for the driver's executemany."""
    return _bulk_insert_sql_for(table.name, tuple(row))


def _switch_to_wal(cur: Any, within_s: float) -> None:
    """``PRAGMA journal_mode=WAL``, retried while the file is locked: on a new file the
    switch needs a lock that SQLite does not wait for even with a busy timeout (another
    connection's migration may hold it for a moment). Runs in the driver's thread."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteStore(SqlStore):
    """Store on a SQLite file (or ``:memory:`` for throwaway use).

    Every driver call is a hand-off to aiosqlite's thread, so the engines are set up to
    make few of them: writes go through one connection on which the driver itself begins
    ``BEGIN IMMEDIATE`` with the first write statement (so the write lock is taken at the
    start, and two processes never deadlock upgrading read locks), and reads through
    autocommit connections (in WAL mode each SELECT sees one consistent snapshot).
    In-process writers queue on an asyncio lock instead of busy-waiting in SQLite.
    """

    dialect = "sqlite"

    def __init__(self, url: str, busy_timeout_ms: int = 10_000) -> None:
        super().__init__(url)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = asyncio.Lock()

    def _create_engine(self) -> AsyncEngine:
        return self._engine_with(isolation="IMMEDIATE", pool_size=1)

    def _create_read_engine(self) -> AsyncEngine:
        return self._engine_with(isolation=None, pool_size=4)

    def _engine_with(self, isolation: str | None, pool_size: int) -> AsyncEngine:
        engine = create_async_engine(
            self.url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=pool_size,
            max_overflow=pool_size,
            # Transactions always end in COMMIT or ROLLBACK here; a reset would be one more
            # round trip to the driver's thread for nothing.
            pool_reset_on_return=None,
        )
        timeout = self.busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # The timeout first: switching a new file to WAL needs a lock that another
            # connection (another process's migration, say) may hold for a moment.
            cur.execute(f"PRAGMA busy_timeout={int(timeout)}")
            _switch_to_wal(cur, timeout / 1000)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            dbapi_conn.isolation_level = isolation

        return engine

    def _insert(self, table: Any) -> Any:
        return sqlite_insert(table)

    async def _insert_job_rows(
        self, conn: AsyncConnection, rows: list[dict[str, Any]], dedupe: bool
    ) -> None:
        if dedupe:
            await super()._insert_job_rows(conn, rows, dedupe)
        else:
            await conn.exec_driver_sql(_bulk_insert_sql(jobs, rows[0]), rows)

    async def _insert_events(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> dict[tuple[str, int], int]:
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter processing
        # cost more than SQLite's work. Writers are serialised and the table is
        # AUTOINCREMENT, so the rows of one executemany get consecutive ids ending at
        # last_insert_rowid().
        await conn.exec_driver_sql(_bulk_insert_sql(job_events, rows[0]), rows)
        last = (await conn.exec_driver_sql("SELECT last_insert_rowid()")).scalar_one()
        first = int(last) - len(rows) + 1
        return {(r["job_id"], r["seq"]): first + i for i, r in enumerate(rows)}

    @asynccontextmanager
    async def _write_lock(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    @asynccontextmanager
    async def migration_connection(self) -> AsyncIterator[AsyncConnection]:
        # DDL does not begin the driver's implicit transaction: begin one explicitly, on an
        # autocommit connection, so that a migration applies whole or not at all.
        async with self._translate_errors(), self._write_lock():
            assert self._reader is not None, "store is not open"
            async with self._reader.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.exec_driver_sql("ROLLBACK")
                    raise
                await conn.exec_driver_sql("COMMIT")
