"""Schema creation and migration, on both databases.

A new database gets its tables straight from ``genq.store.schema`` (fast, no Alembic
import); an existing one is migrated by Alembic. These tests hold the two paths to the
same schema, and the declared head to the newest migration script.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from genq.store import make_store
from genq.store.migrate import HEAD_REVISION, alembic_config, upgrade
from genq.store.sql import SqlStore


def _describe(sync_conn: Any) -> dict[str, Any]:
    """Everything the inspector reflects about the tables, as comparable strings."""
    insp = inspect(sync_conn)
    schema: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in insp.get_columns(table)
            ],
            "primary_key": insp.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (
                    i["name"],
                    tuple(str(c) for c in i["column_names"]),
                    tuple(str(e) for e in i.get("expressions") or ()),
                    bool(i["unique"]),
                    sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items()),
                )
                for i in insp.get_indexes(table)
            ),
        }
    return schema


async def _open(url: str) -> SqlStore:
    store = make_store(url)
    assert isinstance(store, SqlStore)
    await store.open()
    return store


async def _schema_of(store: SqlStore) -> dict[str, Any]:
    async with store.migration_connection() as conn:
        return await conn.run_sync(_describe)


async def _alembic_upgrade(store: SqlStore, revision: str = "head") -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with store.migration_connection() as conn:
        await conn.run_sync(run)


def test_declared_head_is_the_newest_migration_script() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


async def test_new_database_schema_equals_the_migrated_one(
    empty_databases: tuple[str, str],
) -> None:
    created, migrated = [await _open(url) for url in empty_databases]
    try:
        await upgrade(created)
        await _alembic_upgrade(migrated)
        assert await created.schema_revision() == HEAD_REVISION
        assert await migrated.schema_revision() == HEAD_REVISION
        schema = await _schema_of(created)
        assert set(schema) == {
            "alembic_version",
            "genq_jobs",
            "genq_job_events",
            "genq_idempotency_keys",
            "genq_api_keys",
            "genq_credit_accounts",
            "genq_credit_ledger",
            "genq_secrets",
            "genq_exams",
            "genq_exam_questions",
            "genq_courses",
            "genq_lessons",
            "genq_job_checkpoints",
            "genq_workers",
        }
        assert len(schema["genq_jobs"]["indexes"]) == 7
        assert schema == await _schema_of(migrated)
    finally:
        await created.close()
        await migrated.close()


async def test_a_database_at_the_first_revision_keeps_its_jobs(
    empty_databases: tuple[str, str],
) -> None:
    store = await _open(empty_databases[0])
    try:
        await _alembic_upgrade(store, "0001")
        async with store.migration_connection() as conn:
            await conn.execute(
                text(
                    "INSERT INTO genq_jobs (id, type, queue, owner, params, status, max_attempts,"
                    " run_at, created_at, updated_at) VALUES ('0190f0e0-0000-7000-8000-"
                    "000000000001', 'noop', 'default', 'u1', '{}', 'queued', 3, 1, 1, 1)"
                )
            )
        await upgrade(store)
        assert await store.schema_revision() == HEAD_REVISION
        job = await store.get_job("0190f0e0-0000-7000-8000-000000000001")
        assert job is not None
        assert (job.owner, job.fair_rank, job.charged) == ("u1", 0, 0)
        claimed, _ = await store.claim_jobs(["default"], "w", 10, 30)
        assert [j.id for j in claimed] == [job.id]
    finally:
        await store.close()


async def test_upgrade_leaves_a_migrated_database_alone(empty_databases: tuple[str, str]) -> None:
    store = await _open(empty_databases[0])
    try:
        await _alembic_upgrade(store)
        before = await _schema_of(store)
        await upgrade(store)
        await upgrade(store)
        assert await _schema_of(store) == before
        assert await store.schema_revision() == HEAD_REVISION
    finally:
        await store.close()


async def test_concurrent_upgrades_of_a_new_database_create_it_once(
    empty_databases: tuple[str, str],
) -> None:
    stores = [await _open(empty_databases[0]) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(s) for s in stores))
        assert [await s.schema_revision() for s in stores] == [HEAD_REVISION] * 4
    finally:
        for s in stores:
            await s.close()


def test_a_current_schema_does_not_import_alembic(tmp_path: Any) -> None:
    # Start-up speed: Alembic costs over a second to import, so a genq whose database is
    # current (or new) must not load it.
    code = (
        "import asyncio, sys\n"
        "from genq.store import make_store\n"
        "from genq.store.migrate import upgrade\n"
        "async def main():\n"
        f"    s = make_store('sqlite:///{tmp_path}/g.db')\n"
        "    await s.open()\n"
        "    await upgrade(s)\n"
        "    await upgrade(s)\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
