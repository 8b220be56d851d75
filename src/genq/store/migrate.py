"""Bringing a database's schema to the newest revision with Alembic."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from genq.store.sql import SqlStore

# Any fixed 64-bit number: serialises concurrent migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x67656E71


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


@cache
def head_revision() -> str:
    """The newest revision shipped with this genq."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(store: SqlStore) -> None:
    """Apply every migration the database has not seen yet."""

    def run(sync_conn: Any) -> None:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        cfg = _config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with store.migration_connection() as conn:
        await conn.run_sync(run)
