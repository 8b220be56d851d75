"""genq's one settings object, read from ``GENQ_*`` environment variables (and ``.env``).

Built at the edge (the CLI, or whoever calls ``create_app``) and handed down; no other
module reads the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from genq.store import normalise_url


class Settings(BaseSettings):
    """Everything that can be configured, with the defaults of the embedded shape."""

    model_config = SettingsConfigDict(env_prefix="GENQ_", env_file=".env", extra="ignore")

    db_url: str = Field("sqlite:///./genq.db", description="sqlite:///path or postgresql://...")
    bus: Literal["auto", "memory", "postgres"] = Field(
        "auto", description="auto: postgres on PostgreSQL, memory on SQLite"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    auto_migrate: bool = Field(True, description="apply migrations when the server starts")

    run_workers: bool = Field(True, description="run in-process workers inside genq serve")
    queues: list[str] = Field(default_factory=lambda: ["default"])
    concurrency: int = Field(20, ge=1, le=10_000, description="jobs run at once per worker")
    claim_batch: int = Field(100, ge=1, le=1000, description="most jobs claimed per query")
    lease_s: float = Field(30.0, gt=0, description="lease length; renewed every heartbeat")
    heartbeat_s: float = Field(10.0, gt=0, description="how often leases are renewed")
    poll_s: float = Field(1.0, gt=0, description="safety-net poll when no wake-up arrives")
    flush_interval_s: float = Field(
        0.0,
        ge=0,
        description="extra wait to gather a worker's writes into one transaction "
        "(writes made while a flush runs are always gathered into the next one)",
    )
    progress_interval_s: float = Field(
        0.1, ge=0, description="progress events of one job are coalesced to at most one per this"
    )
    shutdown_grace_s: float = Field(
        30.0, ge=0, description="how long running jobs may finish after SIGTERM"
    )
    reaper_interval_s: float = Field(5.0, gt=0, description="how often expired leases are reaped")
    retention_s: float | None = Field(
        None, gt=0, description="delete finished jobs older than this (None keeps them)"
    )

    sse_heartbeat_s: float = Field(15.0, gt=0, description="SSE keep-alive comment interval")
    sse_resync_s: float = Field(
        5.0, gt=0, description="how often watched jobs are checked against the store"
    )
    sse_queue_limit: int = Field(
        10_000, ge=10, description="frames buffered per slow watcher before it is dropped"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest accepted request body")
    max_batch: int = Field(1000, ge=1, le=10_000, description="most jobs in one batch submit")
    log_level: str = "info"
    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        description="Python's young-generation GC threshold for server and worker processes "
        "(0 keeps Python's default of 700)",
    )

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        normalise_url(value)
        return value

    @field_validator("queues", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL with genq's async driver."""
        return normalise_url(self.db_url)

    @property
    def bus_kind(self) -> str:
        """The bus actually used."""
        if self.bus != "auto":
            return self.bus
        return "postgres" if self.database_url.startswith("postgresql") else "memory"

    @property
    def postgres_dsn(self) -> str:
        """The database URL as plain libpq DSN (for LISTEN/NOTIFY)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
