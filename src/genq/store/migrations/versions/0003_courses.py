"""Exams, their questions, courses, lessons, and job checkpoints (seed 003).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "genq_exams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("genq_exams_owner", "genq_exams", ["owner", "id"])
    op.create_table(
        "genq_exam_questions",
        sa.Column("exam_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("explanation", sa.Text),
    )
    op.create_table(
        "genq_courses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("exam_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("topics", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("genq_courses_owner", "genq_courses", ["owner", "id"])
    op.create_table(
        "genq_lessons",
        sa.Column("course_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("key_points", sa.Text, nullable=False),
        sa.Column("questions", sa.Text, nullable=False),
    )
    op.create_table(
        "genq_job_checkpoints",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "genq_job_checkpoints",
        "genq_lessons",
        "genq_courses",
        "genq_exam_questions",
        "genq_exams",
    ):
        op.drop_table(table)
