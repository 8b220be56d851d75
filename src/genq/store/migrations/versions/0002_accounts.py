"""Fair ranks and held credits on jobs; API keys, credit accounts and ledger, secrets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'delayed', 'running')"


def upgrade() -> None:
    op.add_column(
        "genq_jobs", sa.Column("fair_rank", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("genq_jobs", sa.Column("charged", sa.Integer, nullable=False, server_default="0"))
    ready = sa.text("status = 'queued'")
    op.drop_index("genq_jobs_ready", "genq_jobs")
    op.create_index(
        "genq_jobs_ready",
        "genq_jobs",
        ["queue", sa.text("priority DESC"), "fair_rank", "id"],
        sqlite_where=ready,
        postgresql_where=ready,
    )
    active = sa.text(ACTIVE)
    op.create_index(
        "genq_jobs_owner_active",
        "genq_jobs",
        ["owner", "queue", "fair_rank"],
        sqlite_where=active,
        postgresql_where=active,
    )

    op.create_table(
        "genq_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
    )
    op.create_table(
        "genq_credit_accounts",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.CheckConstraint("balance >= 0", name="genq_credit_balance_not_negative"),
    )
    op.create_table(
        "genq_credit_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("genq_credit_ledger_user", "genq_credit_ledger", ["user_id", "id"])
    op.create_table(
        "genq_secrets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("genq_secrets")
    op.drop_table("genq_credit_ledger")
    op.drop_table("genq_credit_accounts")
    op.drop_table("genq_api_keys")
    op.drop_index("genq_jobs_owner_active", "genq_jobs")
    op.drop_index("genq_jobs_ready", "genq_jobs")
    op.create_index(
        "genq_jobs_ready",
        "genq_jobs",
        ["queue", sa.text("priority DESC"), "id"],
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    with op.batch_alter_table("genq_jobs") as batch:  # SQLite rebuilds the table
        batch.drop_column("charged")
        batch.drop_column("fair_rank")
