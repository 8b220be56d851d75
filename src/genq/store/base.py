"""The store seam: everything genq needs from a database, and the records it passes.

One implementation per database (``sqlite.py``, ``postgres.py``) over the shared SQL in
``sql.py``. Callers never see a driver exception: connection failures surface as
:class:`genq.domain.errors.StoreUnavailable`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from genq.domain.courses import Course, Exam
from genq.domain.events import Event, iso
from genq.domain.job import Job
from genq.domain.states import Action, JobStatus
from genq.domain.workers import RemoteWorker


@dataclass(slots=True)
class NewJob:
    """A job to insert."""

    id: str
    type: str
    queue: str
    owner: str
    params: dict[str, Any]
    max_attempts: int
    run_at: float
    created_at: float
    priority: int = 0
    dedupe_key: str | None = None
    cost: int = 0  # credits the owner pays if this job is created
    fair_rank: int = 0  # set by the store when it inserts the job

    @property
    def status(self) -> JobStatus:
        """Queued when it may run now, delayed when it waits for its run_at."""
        return JobStatus.DELAYED if self.run_at > self.created_at else JobStatus.QUEUED


@dataclass(slots=True)
class Submitted:
    """The outcome of one submission: the job, and whether it was created or deduplicated."""

    job: Job
    created: bool


@dataclass(slots=True)
class Idempotency:
    """A client's Idempotency-Key, scoped to its owner, with a hash of the request it came with."""

    owner: str
    key: str
    request_hash: str


@dataclass(slots=True)
class Quota:
    """What a submission is checked against inside its own transaction.

    ``max_active``: most active (queued, delayed, running) jobs the owner may hold once
    the submission is in. Credits are checked whenever a job has a ``cost``.
    """

    max_active: int | None = None


@dataclass(slots=True)
class ApiKeyRecord:
    """An API key as stored: everything but the key itself."""

    id: str
    name: str
    role: str
    user_id: str
    prefix: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The key as the API shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "user_id": self.user_id,
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at) if self.last_used_at else None,
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "active": self.revoked_at is None,
        }


@dataclass(slots=True)
class LedgerEntry:
    """One append-only entry of a user's credit ledger (``amount`` is signed)."""

    id: int
    user_id: str
    kind: str
    amount: int
    balance_after: int
    job_id: str | None
    note: str | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        """The entry as the API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "amount": self.amount,
            "balance_after": self.balance_after,
            "job_id": self.job_id,
            "note": self.note,
            "created_at": iso(self.created_at),
        }


@dataclass(slots=True)
class StoredResponse:
    """The first response given for an Idempotency-Key."""

    status_code: int
    body: bytes
    request_hash: str


@dataclass(slots=True)
class AttemptWrite:
    """A change to a running attempt, applied only while the worker still holds its lease.

    ``action`` (if any) moves the job out of ``running`` through the transition table;
    ``values`` are the other columns to set; ``events`` are appended to the job's stream.
    """

    job_id: str
    worker: str
    attempt: int
    action: Action | None = None
    values: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class JobQuery:
    """Filters for listing jobs, newest first; ``before`` is the cursor (a job id)."""

    owner: str | None = None
    status: JobStatus | None = None
    type: str | None = None
    queue: str | None = None
    before: str | None = None
    limit: int = 50


@dataclass(slots=True)
class LeaseState:
    """What a heartbeat learns about a worker's running jobs."""

    renewed: list[str]
    cancel_requested: dict[str, str | None]  # job id -> the reason given
    lost: list[str]


@dataclass(slots=True)
class FinishedSample:
    """Timing of one job that finished recently, for queue statistics."""

    queue: str
    status: JobStatus
    wait_s: float
    run_s: float


Render = Callable[[list[Submitted]], tuple[int, bytes]]


class AttemptStore(Protocol):
    """What the worker runtime needs to run attempts: a :class:`Store`, or a remote
    worker's HTTP link to a genq server (:mod:`genq.worker.link`)."""

    async def claim_jobs(
        self, queues: Sequence[str], worker: str, limit: int, lease_s: float
    ) -> tuple[list[Job], list[Event]]: ...

    async def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[Event]: ...

    async def renew_leases(
        self, worker: str, attempts: dict[str, int], lease_s: float
    ) -> LeaseState: ...

    async def load_checkpoint(self, job_id: str) -> dict[str, Any] | None: ...

    async def save_checkpoint(self, job_id: str, data: dict[str, Any]) -> None: ...


class Store(ABC):
    """Durable jobs and events."""

    dialect: str

    @abstractmethod
    async def open(self) -> None:
        """Connect (lazily) and prepare the connection pool."""

    @abstractmethod
    async def close(self) -> None:
        """Release every connection."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    @abstractmethod
    async def schema_revision(self) -> str | None:
        """The migration revision the database is at (None before the first migration)."""

    @abstractmethod
    async def submit_jobs(
        self,
        jobs: Sequence[NewJob],
        idempotency: Idempotency | None = None,
        render: Render | None = None,
        quota: Quota | None = None,
    ) -> tuple[list[Submitted], list[Event], StoredResponse | None]:
        """Insert jobs (all or nothing) with their ``job_created`` events.

        A job whose dedupe key already has an active job is not inserted: its result is that
        active job. With ``idempotency``, a repeat of the key returns the first response
        (the third item) and changes nothing. Jobs with a cost are paid from their owner's
        credits in the same transaction (InsufficientCredits otherwise), and ``quota``'s
        cap on active jobs is checked there too (JobLimitExceeded).
        """

    @abstractmethod
    async def get_idempotent(self, owner: str, key: str) -> StoredResponse | None:
        """The response stored for an Idempotency-Key, if any."""

    @abstractmethod
    async def get_job(self, job_id: str) -> Job | None:
        """One job by id."""

    @abstractmethod
    async def get_jobs(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """Jobs by id, in one read; ids not found are left out."""

    @abstractmethod
    async def list_jobs(self, query: JobQuery) -> list[Job]:
        """Jobs matching ``query``, newest first."""

    @abstractmethod
    async def claim_jobs(
        self, queues: Sequence[str], worker: str, limit: int, lease_s: float
    ) -> tuple[list[Job], list[Event]]:
        """Take up to ``limit`` ready jobs (best priority, then oldest) and lease them."""

    @abstractmethod
    async def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[Event]:
        """Apply attempt writes whose lease still holds; return the events written."""

    @abstractmethod
    async def renew_leases(
        self, worker: str, attempts: dict[str, int], lease_s: float
    ) -> LeaseState:
        """Extend the leases of a worker's running attempts (job id -> attempt)."""

    @abstractmethod
    async def cancel_job(self, job_id: str, reason: str | None) -> tuple[Job, list[Event]]:
        """Cancel a queued or delayed job now, or ask a running one to stop."""

    @abstractmethod
    async def retry_job(
        self, job_id: str, extra_attempts: int = 1, cost: int = 0
    ) -> tuple[Job, list[Event]]:
        """Queue a failed or cancelled job for ``extra_attempts`` more attempts.

        With ``cost``, the owner pays it again unless the job still holds its credits.
        """

    @abstractmethod
    async def promote_due(self, now: float, limit: int) -> list[tuple[str, str]]:
        """Move delayed jobs whose run_at has come to queued; return (id, queue) pairs."""

    @abstractmethod
    async def next_due(self) -> float | None:
        """The earliest run_at among delayed jobs."""

    @abstractmethod
    async def expired_attempts(self, now: float, limit: int) -> list[Job]:
        """Running jobs whose lease has expired."""

    @abstractmethod
    async def delete_finished(
        self, before: float, statuses: Sequence[JobStatus], limit: int
    ) -> list[str]:
        """Delete up to ``limit`` finished jobs older than ``before`` with their events;
        return their ids."""

    @abstractmethod
    async def read_events(self, job_id: str, after_seq: int, limit: int = 1000) -> list[Event]:
        """A job's events after ``after_seq``, in order."""

    @abstractmethod
    async def read_all_events(
        self, after_cursor: int, owner: str | None, limit: int = 1000
    ) -> list[Event]:
        """Events of every job (of ``owner``, if given) after a global cursor, in order."""

    @abstractmethod
    async def last_cursor(self) -> int:
        """The newest global event cursor."""

    @abstractmethod
    async def count_jobs(self, owner: str | None) -> list[tuple[str, str, str, int]]:
        """(queue, type, status, count) for every combination present."""

    @abstractmethod
    async def finished_since(
        self, since: float, owner: str | None, limit: int
    ) -> list[FinishedSample]:
        """Wait and run times of jobs finished after ``since``."""

    # --- API keys ----------------------------------------------------------------------------

    @abstractmethod
    async def create_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        """Store a new key under the hash of its secret."""

    @abstractmethod
    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not."""

    @abstractmethod
    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, newest first."""

    @abstractmethod
    async def revoke_api_key(self, key_id: str, now: float) -> ApiKeyRecord | None:
        """Revoke a key (a no-op if it is revoked already); None if there is no such key."""

    @abstractmethod
    async def touch_api_key(self, key_id: str, now: float) -> None:
        """Record that a key was used."""

    # --- credits -----------------------------------------------------------------------------

    @abstractmethod
    async def add_credits(
        self, user_id: str, amount: int, kind: str, note: str | None
    ) -> LedgerEntry:
        """Append a grant or purchase to a user's ledger; return the entry."""

    @abstractmethod
    async def credit_balance(self, user_id: str) -> int:
        """A user's balance (0 for a user with no ledger)."""

    @abstractmethod
    async def credit_entries(
        self, user_id: str, limit: int, offset: int
    ) -> tuple[list[LedgerEntry], int]:
        """A page of a user's ledger, newest first, and the number of entries in all."""

    # --- secrets -----------------------------------------------------------------------------

    @abstractmethod
    async def shared_secret(self, name: str, candidate: str) -> str:
        """The secret stored under ``name``; ``candidate`` is stored first if there is none.

        Every node of one database thus signs with the same key without configuring one.
        """

    # --- exams, courses and checkpoints (seed 003) -----------------------------------------

    @abstractmethod
    async def create_exam(self, exam: Exam) -> None:
        """Store an exam with its questions, all or nothing."""

    @abstractmethod
    async def get_exam(self, exam_id: str) -> Exam | None:
        """An exam with its questions in order."""

    @abstractmethod
    async def list_exams(
        self, owner: str | None, limit: int, offset: int
    ) -> tuple[list[tuple[Exam, int]], int]:
        """Exams (without questions) and their question counts, newest first; the total."""

    @abstractmethod
    async def save_course(self, course: Course) -> str:
        """Store a course and its lessons once per job; the stored course's id."""

    @abstractmethod
    async def get_course(self, course_id: str) -> Course | None:
        """A course with its lessons in order."""

    @abstractmethod
    async def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """What a job's earlier attempts saved of their progress."""

    @abstractmethod
    async def save_checkpoint(self, job_id: str, data: dict[str, Any]) -> None:
        """Replace a job's saved progress."""

    # --- remote workers (seed 004) ---------------------------------------------------------

    @abstractmethod
    async def register_worker(self, worker: RemoteWorker) -> None:
        """Add a remote worker to the registry."""

    @abstractmethod
    async def get_worker(self, worker_id: str) -> RemoteWorker | None:
        """A registered remote worker."""

    @abstractmethod
    async def list_workers(self) -> tuple[list[RemoteWorker], dict[str, int]]:
        """Every registered remote worker, newest first, and its running jobs by id."""

    @abstractmethod
    async def touch_worker(self, worker_id: str, now: float) -> None:
        """Note that a worker was heard from."""

    @abstractmethod
    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        """Remove registry entries (workers long gone); how many were removed."""

    @abstractmethod
    async def set_worker_health(self, worker_id: str, health: dict[str, Any]) -> None:
        """Keep the outcome of genq's last check of a worker's health URL."""
