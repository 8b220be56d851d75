"""genq's one settings object, read from ``GENQ_*`` environment variables (and ``.env``).

Built at the edge (the CLI, or whoever calls ``create_app``) and handed down; no other
module reads the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from genq.domain.auth import DEFAULT_ROLE_CLAIMS, Role
from genq.domain.workers import SEED_004_ROUTES
from genq.store import normalise_url

# Route groups that rate limits name (docs/auth.md).
LIMIT_GROUPS = ("api", "jobs")


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
    # --- auth (docs/auth.md) ---------------------------------------------------------------
    auth_enabled: bool | None = Field(
        None,
        description="require credentials; unset: on when a JWT secret or JWKS URL is set. "
        "Off, genq serves everyone as one local admin, and only on a loopback address",
    )
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 secret of your identity provider (Supabase's JWT secret)"
    )
    jwks_url: str | None = Field(None, description="JWKS URL for RS256/ES256 tokens")
    jwks_cache_s: float = Field(300.0, gt=0, description="how long fetched JWKS keys are used")
    jwt_audience: str | None = Field(None, description="required `aud` claim (e.g. authenticated)")
    jwt_issuer: str | None = Field(None, description="required `iss` claim")
    jwt_leeway_s: float = Field(5.0, ge=0, description="clock skew allowed on exp, nbf and iat")
    jwt_role_claim: str = Field(
        "role", description="claim holding the role; dots reach into objects (app_metadata.role)"
    )
    jwt_roles: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_CLAIMS),
        description="role claim value -> genq role (user, admin, service, worker); "
        "a token whose role is not listed is refused",
    )
    auth_cookies: list[str] = Field(
        default_factory=lambda: ["auth_token", "sb-access-token"],
        description="cookies that may carry the JWT",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="signs stream tokens; unset: a random key kept in the database, "
        "shared by every node",
    )
    stream_token_ttl_s: float = Field(300.0, gt=0, le=86_400, description="stream token life")
    api_key_cache_s: float = Field(
        5.0, ge=0, description="how long an API key lookup is reused (and a revocation lags)"
    )
    insecure: bool = Field(
        False, description="allow serving without auth on a non-loopback address"
    )

    # --- rate limits, quotas, credits -----------------------------------------------------
    rate_limit_storage: str = Field(
        "memory://",
        description="memory:// (one process) or redis://host:port/db (shared by processes)",
    )
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = (
        "fixed-window"
    )
    rate_limits: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"user": {"api": "100/15 minutes", "jobs": "20/hour"}},
        description="role -> route group (api: every /v1 request; jobs: each job created) "
        "-> limit; a role that is not listed is not limited",
    )
    max_active_jobs: dict[str, int] = Field(
        default_factory=lambda: {"user": 100},
        description="role -> most queued + delayed + running jobs one principal may hold",
    )
    credit_costs: dict[str, int] = Field(
        default_factory=dict,
        description="job type -> credits it costs users ('*' for any other type); "
        "empty: credits are off",
    )

    # --- AI providers and files (docs/generation.md) ---------------------------------------
    provider: Literal["auto", "demo", "openai"] = Field(
        "auto",
        description="who generates images and text; auto: openai when an OpenAI key is set, "
        "else the offline demo provider",
    )
    openai_base_url: str = Field(
        "https://api.openai.com/v1",
        description="any OpenAI-compatible API (vLLM, Ollama, LocalAI, a gateway), with its /v1",
    )
    openai_api_key: SecretStr | None = Field(None, description="sent as a Bearer token")
    openai_image_model: str = "dall-e-3"
    openai_chat_model: str = "gpt-4o-mini"
    openai_image_response_format: str = Field(
        "b64_json", description="asked of /images/generations; empty: not sent (url answers)"
    )
    tasks_url: str | None = Field(
        None,
        description="seed 000's external AI tasks service (POST /tasks, GET /tasks/{id}); "
        "unset: simulated by the demo provider",
    )
    provider_timeout_s: float = Field(120.0, gt=0, description="read timeout of one AI call")
    provider_connect_timeout_s: float = Field(5.0, gt=0, description="connect timeout")
    provider_attempts: int = Field(
        4, ge=1, le=20, description="calls per request to an AI service, the first included"
    )
    provider_retry_initial_s: float = Field(0.5, ge=0, description="first retry backoff")
    provider_retry_max_s: float = Field(
        10.0, ge=0, description="longest single wait between calls, Retry-After included"
    )
    tasks_poll_initial_s: float = Field(1.0, gt=0, description="first wait between task polls")
    tasks_poll_max_s: float = Field(15.0, gt=0, description="longest wait between task polls")
    tasks_deadline_s: float = Field(600.0, gt=0, description="how long a task may take in all")
    image_max_bytes: int = Field(
        25_000_000, ge=1024, description="largest generated image genq downloads"
    )
    blob_store: Literal["local", "s3"] = Field("local", description="where generated files go")
    blob_dir: str = Field("./genq-files", description="where the local blob store keeps files")
    s3_bucket: str | None = Field(None, description="the bucket (blob_store=s3)")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, Supabase Storage, R2); unset: AWS"
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = Field(None, description="unset: boto3's usual sources")
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = Field("", description="a folder in the bucket for genq's files")
    s3_public_url: str | None = Field(
        None,
        description="public base URL of the bucket (or a CDN) for file URLs; unset: presigned URLs",
    )
    s3_url_ttl_s: int = Field(
        604_800, ge=1, le=604_800, description="life of presigned file URLs (S3 allows 7 days)"
    )
    public_url: str | None = Field(
        None,
        description="this server's public base URL (https://genq.example.com), to make file "
        "URLs absolute; unset: URLs are paths such as /files/...",
    )

    # --- remote workers (docs/workers.md) --------------------------------------------------
    remote_job_types: dict[str, str] = Field(
        default_factory=lambda: dict(SEED_004_ROUTES),
        description="job type -> queue, for types only remote workers run (seed 004's)",
    )
    worker_health_interval_s: float = Field(
        30.0, gt=0, description="how often the health_url of each live remote worker is checked"
    )
    worker_health_timeout_s: float = Field(
        5.0, gt=0, description="how long a remote worker's health check may take"
    )
    worker_retention_s: float = Field(
        604_800, gt=0, description="remote workers not heard from this long leave the registry"
    )
    worker_push_timeout_s: float = Field(
        10.0, gt=0, description="how long a callback worker may take to accept a pushed job"
    )

    # --- HTTP hygiene ------------------------------------------------------------------------
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the API"
    )
    cors_allow_credentials: bool = Field(True, description="let browsers send cookies")
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

    @field_validator("rate_limits")
    @classmethod
    def _known_limits(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from limits import parse_many

        for role, groups in value.items():
            Role(role)
            for group, spec in groups.items():
                if group not in LIMIT_GROUPS:
                    raise ValueError(f"unknown route group {group!r}; known: {LIMIT_GROUPS}")
                parse_many(spec)
        return value

    @field_validator("max_active_jobs")
    @classmethod
    def _roles_as_keys(cls, value: dict[str, int]) -> dict[str, int]:
        for role in value:
            Role(role)
        return value

    @field_validator("jwt_roles")
    @classmethod
    def _roles_as_values(cls, value: dict[str, str]) -> dict[str, str]:
        for role in value.values():
            Role(role)
        return value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("blob_store=s3 needs s3_bucket")
        return self

    @model_validator(mode="after")
    def _cors_credentials(self) -> Settings:
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError(
                "cors_origins '*' cannot be used with credentials: list the origins, "
                "or set cors_allow_credentials=false"
            )
        return self

    @property
    def auth_on(self) -> bool:
        """Whether callers must authenticate."""
        if self.auth_enabled is not None:
            return self.auth_enabled
        return self.jwt_secret is not None or self.jwks_url is not None

    @field_validator("queues", "auth_cookies", "cors_origins", mode="before")
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
