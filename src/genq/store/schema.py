"""The tables, in SQLAlchemy Core; one schema for SQLite and PostgreSQL.

Times are epoch seconds (double precision) so both databases compare and index them the
same way; JSON documents are text written by orjson.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

ACTIVE_SQL = "status IN ('queued', 'delayed', 'running')"
# The rows the one-active-job-per-dedupe-key index covers.
DEDUPE_PREDICATE = f"dedupe_key IS NOT NULL AND {ACTIVE_SQL}"

jobs = Table(
    "genq_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(200), nullable=False),
    Column("queue", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("step", String(200)),
    Column("message", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", Float, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", Float),
    Column("dedupe_key", String(400)),
    Column("result", Text),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("cancelled_at", Float),
    Column("cancel_requested_at", Float),
    Column("cancel_reason", Text),
    Column("last_seq", Integer, nullable=False, server_default="0"),
    # Fair share: the job's place among its owner's jobs in its queue (see store/fair.py).
    Column("fair_rank", BigInteger, nullable=False, server_default="0"),
    # Credits this job holds: spent when it was accepted, given back (once) if it fails for
    # good or is cancelled before it starts.
    Column("charged", Integer, nullable=False, server_default="0"),
    # Claiming: the best ready job of a queue, by priority, then fair rank, then age.
    Index(
        "genq_jobs_ready",
        "queue",
        text("priority DESC"),
        "fair_rank",
        "id",
        sqlite_where=text("status = 'queued'"),
        postgresql_where=text("status = 'queued'"),
    ),
    # At most one active job per owner and dedupe key.
    Index(
        "genq_jobs_dedupe",
        "owner",
        "dedupe_key",
        unique=True,
        sqlite_where=text(DEDUPE_PREDICATE),
        postgresql_where=text(DEDUPE_PREDICATE),
    ),
    # Each of these serves one state only, so it indexes only rows in that state: a job
    # is in at most one of them, which keeps inserts and state changes cheap.
    Index(
        "genq_jobs_due",
        "run_at",
        sqlite_where=text("status = 'delayed'"),
        postgresql_where=text("status = 'delayed'"),
    ),
    Index(
        "genq_jobs_lease",
        "lease_expires_at",
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
    Index(
        "genq_jobs_finished",
        "finished_at",
        sqlite_where=text("finished_at IS NOT NULL"),
        postgresql_where=text("finished_at IS NOT NULL"),
    ),
    Index("genq_jobs_owner", "owner", "id"),
    # An owner's active jobs: their count (the job cap) and their newest fair rank.
    Index(
        "genq_jobs_owner_active",
        "owner",
        "queue",
        "fair_rank",
        sqlite_where=text(ACTIVE_SQL),
        postgresql_where=text(ACTIVE_SQL),
    ),
)

job_events = Table(
    "genq_job_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("job_id", String(36), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("job_id", "seq", name="genq_job_events_job_seq"),
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "genq_idempotency_keys",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("genq_idempotency_created", "created_at"),
)

api_keys = Table(
    "genq_api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("user_id", String(200), nullable=False),
    # The key itself is never stored: only its SHA-256 (keys are random, 256 bits) and the
    # first characters, for people to tell keys apart.
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
)

credit_accounts = Table(
    "genq_credit_accounts",
    metadata,
    Column("user_id", String(200), primary_key=True),
    # The running total of the user's ledger, kept in the same transaction as each entry.
    Column("balance", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
    CheckConstraint("balance >= 0", name="genq_credit_balance_not_negative"),
)

credit_ledger = Table(
    "genq_credit_ledger",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("user_id", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("job_id", String(36)),
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    Index("genq_credit_ledger_user", "user_id", "id"),
    sqlite_autoincrement=True,
)

secrets = Table(
    "genq_secrets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# --- seed 003: exams and the courses made from them (0003) ---------------------------------

exams = Table(
    "genq_exams",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("genq_exams_owner", "owner", "id"),
)

exam_questions = Table(
    "genq_exam_questions",
    metadata,
    Column("exam_id", String(36), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("answer", Text),
    Column("explanation", Text),
)

courses = Table(
    "genq_courses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("exam_id", String(36), nullable=False),
    # One course per job: a save that is run again (a retried attempt) finds it.
    Column("job_id", String(36), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("topics", Text, nullable=False),  # JSON list of names
    Column("created_at", Float, nullable=False),
    Index("genq_courses_owner", "owner", "id"),
)

lessons = Table(
    "genq_lessons",
    metadata,
    Column("course_id", String(36), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("topic", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("key_points", Text, nullable=False),  # JSON list
    Column("questions", Text, nullable=False),  # JSON list of question positions
)

# A running job's saved progress (what a pipeline has finished), so that a later attempt
# resumes from there. Deleted with the job.
checkpoints = Table(
    "genq_job_checkpoints",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# --- remote workers (0004) ------------------------------------------------------------------

workers = Table(
    "genq_workers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    # Who registered it (an API key's id, or a user id): only they may act as this worker.
    Column("principal", String(200), nullable=False),
    Column("queues", Text, nullable=False),  # JSON list
    Column("capabilities", Text, nullable=False),  # JSON list
    Column("max_concurrency", Integer, nullable=False),
    Column("health_url", Text),
    Column("callback_url", Text),
    Column("registered_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("health", Text),  # JSON: the last health check's outcome
)
