"""API keys and shared secrets, written inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.store.base import ApiKeyRecord
from genq.store.schema import api_keys, secrets

_FIELDS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.role,
    api_keys.c.user_id,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


def _record(row: Any) -> ApiKeyRecord:
    m = row._mapping
    return ApiKeyRecord(
        id=m["id"],
        name=m["name"],
        role=m["role"],
        user_id=m["user_id"],
        prefix=m["prefix"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )


async def insert(conn: AsyncConnection, record: ApiKeyRecord, key_hash: str) -> None:
    await conn.execute(
        api_keys.insert(),
        {
            "id": record.id,
            "name": record.name,
            "role": record.role,
            "user_id": record.user_id,
            "prefix": record.prefix,
            "key_hash": key_hash,
            "created_at": record.created_at,
        },
    )


async def by_hash(conn: AsyncConnection, key_hash: str) -> ApiKeyRecord | None:
    row = (await conn.execute(select(*_FIELDS).where(api_keys.c.key_hash == key_hash))).first()
    return None if row is None else _record(row)


async def listing(conn: AsyncConnection) -> list[ApiKeyRecord]:
    stmt = select(*_FIELDS).order_by(api_keys.c.created_at.desc(), api_keys.c.id.desc())
    return [_record(r) for r in await conn.execute(stmt)]


async def revoke(conn: AsyncConnection, key_id: str, now: float) -> ApiKeyRecord | None:
    await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = (await conn.execute(select(*_FIELDS).where(api_keys.c.id == key_id))).first()
    return None if row is None else _record(row)


async def touch(conn: AsyncConnection, key_id: str, now: float) -> None:
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


async def secret(conn: AsyncConnection, name: str) -> str | None:
    stmt = select(secrets.c.value).where(secrets.c.name == name)
    value = (await conn.execute(stmt)).scalar()
    return None if value is None else str(value)
