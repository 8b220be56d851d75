"""Bringing a database's schema to the newest revision.

Three cases, decided inside one migration transaction (serialised by an advisory lock on
PostgreSQL and by the write lock on SQLite):

- the schema is current: nothing to do, and Alembic is never imported (it costs over a
  second of start-up on a small machine);
- the database is empty: the tables are created from ``genq.store.schema`` and stamped
  with the head revision, as Alembic's own documentation recommends for new databases
  (a test proves that this schema and the migrations' schema are the same);
- the database is at an older revision: Alembic applies the missing migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, text

from genq.store.schema import metadata
from genq.store.sql import SqlStore

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision shipped with this genq (tests check it against the scripts).
HEAD_REVISION = "0004"

# Any fixed 64-bit number: serialises concurrent migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x67656E71

# Alembic's own bookkeeping table, exactly as Alembic creates it.
_alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config() -> Config:
    """The Alembic configuration for genq's migration scripts."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def _current_revision(sync_conn: Any) -> str | None:
    if not inspect(sync_conn).has_table(_alembic_version.name):
        return None
    row = sync_conn.execute(_alembic_version.select()).first()
    return None if row is None else str(row[0])


def _migrate(sync_conn: Any) -> None:
    if sync_conn.dialect.name == "postgresql":
        sync_conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
    revision = _current_revision(sync_conn)
    if revision == HEAD_REVISION:
        return
    if revision is None and not any(inspect(sync_conn).has_table(name) for name in metadata.tables):
        metadata.create_all(sync_conn)
        _alembic_version.create(sync_conn)
        sync_conn.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))
        return
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def upgrade(store: SqlStore) -> None:
    """Bring the database to :data:`HEAD_REVISION`; a no-op when it is there already."""
    async with store.migration_connection() as conn:
        await conn.run_sync(_migrate)
