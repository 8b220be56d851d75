"""The floor: a bare Python claim loop on each database, with nothing else around it.

Each job is claimed (set running) and completed (set done) in its own transaction: the
least any durable queue must write. One at a time, and in batches of 100 per statement.
SQLite: stdlib sqlite3, WAL, synchronous=NORMAL. PostgreSQL: asyncpg, ``FOR UPDATE SKIP
LOCKED``, 10 connections claiming side by side.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.common import fresh_pg_database

SQLITE_CLAIM = (
    "UPDATE jobs SET status = 'running' WHERE id IN "
    "(SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT ?) RETURNING id"
)
PG_CLAIM = (
    "UPDATE jobs SET status = 'running' WHERE id = ANY(ARRAY("
    "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
    ")) RETURNING id"
)


def sqlite_drain(total: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
        db.execute("CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued'")
        db.executemany("INSERT INTO jobs (status) VALUES ('queued')", [()] * total)
        done = 0
        t0 = time.perf_counter()
        while done < total:
            db.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in db.execute(SQLITE_CLAIM, (batch,))]
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            db.executemany("UPDATE jobs SET status = 'done' WHERE id = ?", [(i,) for i in ids])
            db.execute("COMMIT")
            done += len(ids)
        rate = total / (time.perf_counter() - t0)
        db.close()
        return rate


async def _pg_drain(url: str, total: int, batch: int, connections: int) -> float:
    setup = await asyncpg.connect(url)
    await setup.execute("CREATE TABLE jobs (id bigserial PRIMARY KEY, status text NOT NULL)")
    await setup.execute("CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued'")
    await setup.execute(
        "INSERT INTO jobs (status) SELECT 'queued' FROM generate_series(1, $1)", total
    )
    await setup.close()
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)

    async def loop() -> None:
        async with pool.acquire() as conn:
            while True:
                ids = [r[0] for r in await conn.fetch(PG_CLAIM, batch)]
                if not ids:
                    return
                await conn.execute("UPDATE jobs SET status = 'done' WHERE id = ANY($1)", ids)

    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    rate = total / (time.perf_counter() - t0)
    await pool.close()
    return rate


def pg_drain(total: int, batch: int, connections: int = 10) -> float:
    url = fresh_pg_database("genq_bench_floor")
    return asyncio.run(_pg_drain(url, total, batch, connections))


def bench_floor(total: int = 10_000) -> dict[str, float]:
    return {
        "sqlite_1": sqlite_drain(total, 1),
        "sqlite_100": sqlite_drain(total, 100),
        "postgres_1": pg_drain(total, 1),
        "postgres_100": pg_drain(total, 100),
    }


if __name__ == "__main__":
    print(bench_floor())
