"""PostgreSQL store: claims with ``FOR UPDATE SKIP LOCKED``; row locks serialise writers."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Table,
    TextClause,
    any_,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from genq.domain.states import Action, JobStatus, sources, target
from genq.store.base import AttemptWrite
from genq.store.schema import DEDUPE_PREDICATE, job_events, jobs
from genq.store.sql import JSON_COLUMNS, SqlStore, dumps

# A transaction-scoped advisory lock per owner (64-bit hash of a namespaced key).
_OWNER_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def _array_type(column: str, table: Table = jobs) -> str:
    kind = table.c[column].type
    if isinstance(kind, Float):
        return "float8[]"
    if isinstance(kind, Integer):
        return "int4[]"
    return "text[]"


def _sql_type(column: str, table: Table) -> str:
    kind = table.c[column].type
    if isinstance(kind, Float):
        return "float8"
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    return "text"


@cache
def _recordset_insert(
    table: Table, columns: tuple[str, ...], dedupe: bool, returning: tuple[str, ...]
) -> TextClause:
    """``INSERT ... SELECT FROM json_to_recordset(:rows)``: a whole batch in one statement.

    The rows travel as one JSON text, which PostgreSQL parses faster than asyncpg encodes
    one array per column (asyncpg type-checks every element of every array).
    """
    names = ", ".join(columns)
    record = ", ".join(f"{c} {_sql_type(c, table)}" for c in columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) "
        f"SELECT {names} FROM json_to_recordset(CAST(:rows AS json)) AS r({record})"
    )
    if dedupe:
        sql += f" ON CONFLICT (owner, dedupe_key) WHERE {DEDUPE_PREDICATE} DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


@cache
def _attempt_update_unnest(action: Action | None, keys: tuple[str, ...]) -> TextClause:
    """``UPDATE ... FROM unnest(arrays)`` guarded on each row's lease, returning what applied."""
    if action is not None and sources(action) != {JobStatus.RUNNING}:
        raise ValueError(f"{action.value} does not end a running attempt")
    values = [k for k in keys if k != "_expired_before"]
    columns = ["id", "worker", "attempt", "n"] + [f"v_{k}" for k in values]
    types = ["text[]", "text[]", "int4[]", "int4[]"] + [_array_type(k) for k in values]
    if "_expired_before" in keys:
        columns.append("expired_before")
        types.append("float8[]")
    arrays = ", ".join(f"CAST(:{c} AS {t})" for c, t in zip(columns, types, strict=True))
    sets = ["last_seq = j.last_seq + u.n", "updated_at = :now"]
    sets += [f"{k} = u.v_{k}" for k in values]
    if action is not None:
        sets += [f"status = '{target(action).value}'", "lease_expires_at = NULL"]
    where = (
        "j.id = u.id AND j.status = 'running'"
        " AND j.lease_owner = u.worker AND j.attempts = u.attempt"
    )
    if "_expired_before" in keys:
        where += " AND j.lease_expires_at < u.expired_before"
    return text(
        f"UPDATE genq_jobs AS j SET {', '.join(sets)} "
        f"FROM unnest({arrays}) AS u({', '.join(columns)}) "
        f"WHERE {where} RETURNING j.id, j.last_seq, j.owner"
    )


def _attempt_arrays(keys: tuple[str, ...], group: list[AttemptWrite], now: float) -> dict[str, Any]:
    params: dict[str, Any] = {
        "now": now,
        "id": [w.job_id for w in group],
        "worker": [w.worker for w in group],
        "attempt": [w.attempt for w in group],
        "n": [len(w.events) for w in group],
    }
    for k in keys:
        name = "expired_before" if k == "_expired_before" else f"v_{k}"
        params[name] = [
            dumps(w.values[k]) if k in JSON_COLUMNS and w.values[k] is not None else w.values[k]
            for w in group
        ]
    return params


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

    async def _lock_owner(self, conn: AsyncConnection, owner: str) -> None:
        await conn.execute(_OWNER_LOCK, {"key": f"genq:owner:{owner}"})

    async def _insert_job_rows(
        self, conn: AsyncConnection, rows: list[dict[str, Any]], dedupe: bool
    ) -> None:
        # One statement whatever the batch size.
        stmt = _recordset_insert(jobs, tuple(rows[0]), dedupe, ())
        await conn.execute(stmt, {"rows": orjson.dumps(rows).decode()})

    async def _insert_events(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> dict[tuple[str, int], int]:
        stmt = _recordset_insert(job_events, tuple(rows[0]), False, ("id", "job_id", "seq"))
        returned = await conn.execute(stmt, {"rows": orjson.dumps(rows).decode()})
        return {(r[1], r[2]): r[0] for r in returned}

    async def _update_attempts(
        self,
        conn: AsyncConnection,
        action: Action | None,
        keys: tuple[str, ...],
        group: list[AttemptWrite],
        now: float,
    ) -> dict[str, tuple[int, str]]:
        # One statement for the whole group: the rows come in as arrays, and RETURNING says
        # which guards held, so no read-back is needed.
        params = _attempt_arrays(keys, group, now)
        rows = await conn.execute(_attempt_update_unnest(action, keys), params)
        return {r[0]: (r[1], r[2]) for r in rows}

    def _id_in_locked(self, ids: Any) -> ColumnElement[bool]:
        # `id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` may be re-run by the planner and
        # take more than n rows; ARRAY(subquery) is evaluated exactly once.
        return jobs.c.id == any_(func.array(ids.scalar_subquery()))
