"""Jobs, job events and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'delayed', 'running')"


def upgrade() -> None:
    op.create_table(
        "genq_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("step", sa.String(200)),
        sa.Column("message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("run_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.Float),
        sa.Column("dedupe_key", sa.String(400)),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("cancelled_at", sa.Float),
        sa.Column("cancel_requested_at", sa.Float),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    )
    ready = sa.text("status = 'queued'")
    op.create_index(
        "genq_jobs_ready",
        "genq_jobs",
        ["queue", sa.text("priority DESC"), "id"],
        sqlite_where=ready,
        postgresql_where=ready,
    )
    dedupe = sa.text(f"dedupe_key IS NOT NULL AND {ACTIVE}")
    op.create_index(
        "genq_jobs_dedupe",
        "genq_jobs",
        ["owner", "dedupe_key"],
        unique=True,
        sqlite_where=dedupe,
        postgresql_where=dedupe,
    )
    for name, column, where in (
        ("genq_jobs_due", "run_at", "status = 'delayed'"),
        ("genq_jobs_lease", "lease_expires_at", "status = 'running'"),
        ("genq_jobs_finished", "finished_at", "finished_at IS NOT NULL"),
    ):
        predicate = sa.text(where)
        op.create_index(
            name, "genq_jobs", [column], sqlite_where=predicate, postgresql_where=predicate
        )
    op.create_index("genq_jobs_owner", "genq_jobs", ["owner", "id"])

    op.create_table(
        "genq_job_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("job_id", "seq", name="genq_job_events_job_seq"),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "genq_idempotency_keys",
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("genq_idempotency_created", "genq_idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("genq_idempotency_keys")
    op.drop_table("genq_job_events")
    op.drop_table("genq_jobs")
