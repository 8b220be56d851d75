"""PostgreSQL store: claims with ``FOR UPDATE SKIP LOCKED``; row locks serialise writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, any_, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from genq.store.schema import jobs
from genq.store.sql import SqlStore


class PostgresStore(SqlStore):
    """Store on a PostgreSQL database through asyncpg."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 10, connect_timeout_s: float = 5.0) -> None:
        super().__init__(url)
        self.pool_size = pool_size
        self.connect_timeout_s = connect_timeout_s

    def _create_engine(self) -> AsyncEngine:
        return create_async_engine(
            self.url,
            pool_size=self.pool_size,
            max_overflow=self.pool_size,
            pool_pre_ping=True,
            pool_timeout=10,
            connect_args={"timeout": self.connect_timeout_s, "command_timeout": 60},
        )

    def _insert(self, table: Any) -> Any:
        return pg_insert(table)

    def _id_in_locked(self, ids: Any) -> ColumnElement[bool]:
        # `id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` may be re-run by the planner and
        # take more than n rows; ARRAY(subquery) is evaluated exactly once.
        return jobs.c.id == any_(func.array(ids.scalar_subquery()))
