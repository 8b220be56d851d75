"""The remote workers' registry, read and written inside the caller's transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.domain.workers import LEASE_PREFIX, RemoteWorker
from genq.store.schema import jobs, workers


def _record(row: Any) -> RemoteWorker:
    m = row._mapping
    return RemoteWorker(
        id=m["id"],
        name=m["name"],
        principal=m["principal"],
        queues=orjson.loads(m["queues"]),
        capabilities=orjson.loads(m["capabilities"]),
        max_concurrency=m["max_concurrency"],
        registered_at=m["registered_at"],
        last_seen_at=m["last_seen_at"],
        health_url=m["health_url"],
        callback_url=m["callback_url"],
        health=orjson.loads(m["health"]) if m["health"] else None,
    )


async def insert(conn: AsyncConnection, w: RemoteWorker) -> None:
    await conn.execute(
        workers.insert(),
        {
            "id": w.id,
            "name": w.name,
            "principal": w.principal,
            "queues": orjson.dumps(w.queues).decode(),
            "capabilities": orjson.dumps(w.capabilities).decode(),
            "max_concurrency": w.max_concurrency,
            "health_url": w.health_url,
            "callback_url": w.callback_url,
            "registered_at": w.registered_at,
            "last_seen_at": w.last_seen_at,
            "health": None,
        },
    )


async def by_id(conn: AsyncConnection, worker_id: str) -> RemoteWorker | None:
    row = (await conn.execute(select(workers).where(workers.c.id == worker_id))).first()
    return None if row is None else _record(row)


async def listing(conn: AsyncConnection) -> list[RemoteWorker]:
    stmt = select(workers).order_by(workers.c.registered_at.desc(), workers.c.id)
    return [_record(r) for r in await conn.execute(stmt)]


async def touch(conn: AsyncConnection, worker_id: str, now: float) -> None:
    stmt = update(workers).where(workers.c.id == worker_id).values(last_seen_at=now)
    await conn.execute(stmt)


async def set_health(conn: AsyncConnection, worker_id: str, health: dict[str, Any]) -> None:
    doc = orjson.dumps(health).decode()
    await conn.execute(update(workers).where(workers.c.id == worker_id).values(health=doc))


async def running_counts(conn: AsyncConnection) -> dict[str, int]:
    """Running jobs per remote worker id."""
    stmt = (
        select(jobs.c.lease_owner, func.count())
        .where(jobs.c.status == "running", jobs.c.lease_owner.like(f"{LEASE_PREFIX}%"))
        .group_by(jobs.c.lease_owner)
    )
    return {str(owner)[len(LEASE_PREFIX) :]: int(n) for owner, n in await conn.execute(stmt)}


async def delete(conn: AsyncConnection, worker_ids: list[str]) -> int:
    result = await conn.execute(delete_rows(workers).where(workers.c.id.in_(worker_ids)))
    return int(result.rowcount or 0)
