"""The SQL both databases share, one named function per statement, over SQLAlchemy Core.

Dialect differences (engine set-up, ``INSERT ... ON CONFLICT``, write serialisation and
error translation) are the subclasses' business: ``sqlite.py`` and ``postgres.py``.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from genq.domain.courses import Course, Exam
from genq.domain.errors import (
    InvalidTransition,
    JobLimitExceeded,
    JobNotFound,
    StoreUnavailable,
)
from genq.domain.events import Event, EventType, iso
from genq.domain.job import Job
from genq.domain.states import (
    ACTIVE,
    TERMINAL,
    Action,
    JobStatus,
    TransitionError,
    sources,
    target,
)
from genq.domain.workers import RemoteWorker
from genq.store import courses, credits, keys, workers
from genq.store.base import (
    ApiKeyRecord,
    AttemptWrite,
    FinishedSample,
    Idempotency,
    JobQuery,
    LeaseState,
    LedgerEntry,
    NewJob,
    Quota,
    Render,
    Store,
    StoredResponse,
    Submitted,
)
from genq.store.fair import RANK, assign_ranks, rank_params
from genq.store.schema import (
    ACTIVE_SQL,
    DEDUPE_PREDICATE,
    idempotency_keys,
    job_events,
    jobs,
    secrets,
)

JSON_COLUMNS = ("params", "result", "error")
# An event to insert: (job_id, seq, type, data, owner).
_EventRow = tuple[str, int, str, dict[str, Any], str]
_MAX_SUBMIT_TRIES = 5
_INSERT_EVENT = job_events.insert()
# Built once: SQLAlchemy then finds its compiled form without re-deriving a cache key.
_GET_JOB = select(jobs).where(jobs.c.id == bindparam("id"))
_COUNT_ACTIVE = select(func.count()).where(
    jobs.c.owner == bindparam("owner"), literal_column(ACTIVE_SQL)
)
_INSERT_EVENTS = job_events.insert().returning(
    job_events.c.id, job_events.c.job_id, job_events.c.seq
)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def row_to_job(row: Row[Any]) -> Job:
    """Build a Job from a full row of the jobs table."""
    m = row._mapping
    return Job(
        id=m["id"],
        type=m["type"],
        queue=m["queue"],
        owner=m["owner"],
        params=orjson.loads(m["params"]),
        status=JobStatus(m["status"]),
        priority=m["priority"],
        progress=m["progress"],
        step=m["step"],
        message=m["message"],
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        run_at=m["run_at"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        dedupe_key=m["dedupe_key"],
        result=_loads(m["result"]),
        error=_loads(m["error"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        cancelled_at=m["cancelled_at"],
        cancel_requested_at=m["cancel_requested_at"],
        cancel_reason=m["cancel_reason"],
        last_seq=m["last_seq"],
        fair_rank=m["fair_rank"],
        charged=m["charged"],
    )


def _row_to_event(row: Row[Any]) -> Event:
    m = row._mapping
    return Event(
        job_id=m["job_id"],
        seq=m["seq"],
        type=m["type"],
        data=orjson.loads(m["data"]),
        timestamp=m["created_at"],
        cursor=m["id"],
    )


def _new_job_row(nj: NewJob) -> dict[str, Any]:
    return {
        "id": nj.id,
        "type": nj.type,
        "queue": nj.queue,
        "owner": nj.owner,
        "params": dumps(nj.params),
        "status": nj.status.value,
        "priority": nj.priority,
        "progress": 0,
        "attempts": 0,
        "max_attempts": nj.max_attempts,
        "run_at": nj.run_at,
        "dedupe_key": nj.dedupe_key,
        "created_at": nj.created_at,
        "updated_at": nj.created_at,
        "last_seq": 1,
        "fair_rank": nj.fair_rank,
        "charged": nj.cost,
    }


def _new_job_record(nj: NewJob) -> Job:
    return Job(
        id=nj.id,
        type=nj.type,
        queue=nj.queue,
        owner=nj.owner,
        params=nj.params,
        status=nj.status,
        priority=nj.priority,
        max_attempts=nj.max_attempts,
        run_at=nj.run_at,
        dedupe_key=nj.dedupe_key,
        created_at=nj.created_at,
        updated_at=nj.created_at,
        last_seq=1,
        fair_rank=nj.fair_rank,
        charged=nj.cost,
    )


def _status_is(statuses: frozenset[JobStatus] | Sequence[JobStatus]) -> ColumnElement[bool]:
    """``status IN (...)`` with the states written as literals.

    SQLite uses a partial index (``WHERE status = 'queued'``) only when the query names the
    same constant; a bound parameter would make every claim scan and sort the whole table.
    The values are genq's own state names, never client input.
    """
    values = sorted(JobStatus(s).value for s in statuses)
    if len(values) == 1:
        return jobs.c.status == literal_column(f"'{values[0]}'")
    return jobs.c.status.in_([literal_column(f"'{v}'") for v in values])


# SQLSTATE classes that mean "the database cannot serve now", not "this request is wrong":
# connection exception, insufficient resources, operator intervention (e.g. an
# administrator ended the session, the server is starting or shutting down).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_unavailable(exc: DBAPIError) -> bool:
    """Whether a driver error means the database is away (503), not a bug (500)."""
    if exc.connection_invalidated or exc.statement is None:
        # No statement: it failed while connecting (refused, not accepting connections).
        return True
    orig = getattr(exc.orig, "driver_exception", exc.orig)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


class _RollbackWith(Exception):
    """Leaves a write transaction, rolling it back, carrying what to answer instead."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _TryAgain(Exception):
    """A race made the transaction's reads stale; run it again."""


class SqlStore(Store):
    """Store over SQLAlchemy Core; subclasses set up the engine for their database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._one_job_inserts: dict[bool, Any] = {}

    # --- set-up and seams for subclasses ---------------------------------------------------

    @abstractmethod
    def _create_engine(self) -> AsyncEngine:
        """The async engine for this database (the one writes use)."""

    def _create_read_engine(self) -> AsyncEngine | None:
        """A separate engine for reads, where the database gains from one (SQLite)."""
        return None

    @abstractmethod
    def _insert(self, table: Any) -> Any:
        """This dialect's ``insert`` (with ``on_conflict_do_nothing``)."""

    async def _insert_jobs(
        self, conn: AsyncConnection, new_jobs: Sequence[NewJob], dedupe: bool
    ) -> None:
        """Insert and rank new jobs; with ``dedupe``, skip those whose dedupe key has an
        active job."""
        if len(new_jobs) > 1:
            await assign_ranks(conn, new_jobs)
            await self._insert_job_rows(conn, [_new_job_row(nj) for nj in new_jobs], dedupe)
            return
        # One job: the INSERT computes its rank and returns it, in one round trip.
        nj = new_jobs[0]
        row = {k: v for k, v in _new_job_row(nj).items() if k != "fair_rank"}
        stmt = self._one_job_inserts.get(dedupe)
        if stmt is None:  # built once: SQLAlchemy then reuses its compiled form
            stmt = self._job_insert(dedupe).values(fair_rank=RANK).returning(jobs.c.fair_rank)
            self._one_job_inserts[dedupe] = stmt
        rank = (await conn.execute(stmt, {**row, **rank_params(nj)})).scalar()
        if rank is not None:  # None: skipped for its dedupe key
            nj.fair_rank = int(rank)

    def _job_insert(self, dedupe: bool) -> Any:
        if not dedupe:
            return jobs.insert()
        return self._insert(jobs).on_conflict_do_nothing(
            index_elements=["owner", "dedupe_key"], index_where=text(DEDUPE_PREDICATE)
        )

    async def _insert_job_rows(
        self, conn: AsyncConnection, rows: list[dict[str, Any]], dedupe: bool
    ) -> None:
        """Insert ranked job rows (see :meth:`_insert_jobs`)."""
        await conn.execute(self._job_insert(dedupe), rows)

    async def _insert_events(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> dict[tuple[str, int], int]:
        """Insert event rows; return each one's cursor by (job_id, seq)."""
        if len(rows) == 1:
            # One row (a submission, a cancel): its id comes with the INSERT itself.
            key = (await conn.execute(_INSERT_EVENT, rows[0])).inserted_primary_key
            assert key is not None
            return {(rows[0]["job_id"], rows[0]["seq"]): int(key[0])}
        # RETURNING rows come in no promised order (asking for one makes SQLAlchemy insert
        # row by row), so each cursor is matched back by (job_id, seq), which is unique.
        returned = await conn.execute(_INSERT_EVENTS, rows)
        return {(r[1], r[2]): r[0] for r in returned}

    def _id_in_locked(self, ids: Any) -> ColumnElement[bool]:
        """``jobs.id`` among the ids a locking subquery picks, evaluated once."""
        return jobs.c.id.in_(ids.scalar_subquery())

    @asynccontextmanager
    async def _write_lock(self) -> AsyncIterator[None]:
        """Serialises writers where the database needs it (SQLite); a no-op elsewhere."""
        yield

    async def _lock_owner(self, conn: AsyncConnection, owner: str) -> None:
        """Serialise this transaction with others that lock the same owner (until it ends).

        A no-op where writers are serialised anyway (SQLite).
        """

    @property
    def engine(self) -> AsyncEngine:
        """The engine (after :meth:`open`)."""
        if self._engine is None:
            raise RuntimeError("store is not open")
        return self._engine

    async def open(self) -> None:
        if self._engine is None:
            self._engine = self._create_engine()
            self._reader = self._create_read_engine() or self._engine

    async def close(self) -> None:
        if self._reader is not None and self._reader is not self._engine:
            await self._reader.dispose()
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._reader = None

    @asynccontextmanager
    async def _translate_errors(self) -> AsyncIterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError, PoolTimeout, OSError, ConnectionError) as exc:
            raise StoreUnavailable("the database is unavailable; try again shortly") from exc
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise StoreUnavailable("the database is unavailable; try again shortly") from exc
            raise

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception."""
        async with self._translate_errors(), self._write_lock(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        assert self._reader is not None, "store is not open"
        async with self._translate_errors(), self._reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def migration_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction for Alembic, committed when the block ends."""
        async with self._write() as conn:
            yield conn

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    async def schema_revision(self) -> str | None:
        async with self._read() as conn:
            try:
                row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
            except (OperationalError, DBAPIError):
                return None
            return None if row is None else str(row[0])

    # --- events ----------------------------------------------------------------------------

    async def _append_events(
        self, conn: AsyncConnection, items: list[_EventRow], now: float
    ) -> list[Event]:
        """Insert (job_id, seq, type, data, owner) rows; return them as Events with cursors."""
        if not items:
            return []
        rows = [
            {"job_id": j, "seq": s, "type": t, "data": dumps(d), "created_at": now}
            for j, s, t, d, _ in items
        ]
        cursors = await self._insert_events(conn, rows)
        return [
            Event(job_id=j, seq=s, type=t, data=d, timestamp=now, cursor=cursors[(j, s)], owner=o)
            for j, s, t, d, o in items
        ]

    async def read_events(self, job_id: str, after_seq: int, limit: int = 1000) -> list[Event]:
        stmt = (
            select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.seq > after_seq)
            .order_by(job_events.c.seq)
            .limit(limit)
        )
        async with self._read() as conn:
            return [_row_to_event(r) for r in await conn.execute(stmt)]

    async def read_all_events(
        self, after_cursor: int, owner: str | None, limit: int = 1000
    ) -> list[Event]:
        stmt = select(job_events).where(job_events.c.id > after_cursor)
        if owner is not None:
            stmt = stmt.where(
                job_events.c.job_id.in_(select(jobs.c.id).where(jobs.c.owner == owner))
            )
        stmt = stmt.order_by(job_events.c.id).limit(limit)
        async with self._read() as conn:
            return [_row_to_event(r) for r in await conn.execute(stmt)]

    async def last_cursor(self) -> int:
        async with self._read() as conn:
            value = (await conn.execute(select(func.max(job_events.c.id)))).scalar()
            return int(value or 0)

    # --- submitting ------------------------------------------------------------------------

    async def submit_jobs(
        self,
        new_jobs: Sequence[NewJob],
        idempotency: Idempotency | None = None,
        render: Render | None = None,
        quota: Quota | None = None,
    ) -> tuple[list[Submitted], list[Event], StoredResponse | None]:
        for _ in range(_MAX_SUBMIT_TRIES):
            try:
                async with self._write() as conn:
                    return await self._submit(conn, new_jobs, idempotency, render, quota)
            except _RollbackWith as hit:
                return [], [], hit.value
            except _TryAgain:
                continue
        raise StoreUnavailable("the submission kept racing with other writers; try again")

    async def _submit(
        self,
        conn: AsyncConnection,
        new_jobs: Sequence[NewJob],
        idempotency: Idempotency | None,
        render: Render | None,
        quota: Quota | None,
    ) -> tuple[list[Submitted], list[Event], StoredResponse | None]:
        now = time.time()
        capped = quota is not None and quota.max_active is not None
        if capped:
            # Before any read: the count below must see every job of this owner's other
            # submissions, which on PostgreSQL run in their own snapshots.
            for owner in sorted({nj.owner for nj in new_jobs}):
                await self._lock_owner(conn, owner)
        if idempotency is not None:
            stored = await self._stored_response(conn, idempotency.owner, idempotency.key)
            if stored is not None:
                raise _RollbackWith(stored)
        deduping = any(nj.dedupe_key is not None for nj in new_jobs)
        await self._insert_jobs(conn, new_jobs, deduping)
        if deduping:
            ids = [nj.id for nj in new_jobs]
            inserted = set(
                (await conn.execute(select(jobs.c.id).where(jobs.c.id.in_(ids)))).scalars()
            )
        else:
            inserted = {nj.id for nj in new_jobs}
        results: list[Submitted] = []
        created: list[_EventRow] = []
        for nj in new_jobs:
            if nj.id in inserted:
                results.append(Submitted(_new_job_record(nj), True))
                created.append((nj.id, 1, EventType.JOB_CREATED, _created_data(nj), nj.owner))
                continue
            existing = await self._active_by_dedupe(conn, nj.owner, nj.dedupe_key)
            if existing is None:
                raise _TryAgain  # the active job finished between the conflict and the read
            results.append(Submitted(existing, False))
        await self._check_quota(conn, new_jobs, inserted, quota, now)
        events = await self._append_events(conn, created, now)
        response: StoredResponse | None = None
        if idempotency is not None and render is not None:
            status_code, body = render(results)
            stmt = self._insert(idempotency_keys).on_conflict_do_nothing()
            res = await conn.execute(
                stmt,
                {
                    "owner": idempotency.owner,
                    "key": idempotency.key,
                    "request_hash": idempotency.request_hash,
                    "status_code": status_code,
                    "response": body.decode(),
                    "created_at": now,
                },
            )
            if res.rowcount == 0:
                # A concurrent request with the same key won: answer what it answered.
                stored = await self._stored_response(conn, idempotency.owner, idempotency.key)
                raise _RollbackWith(stored)
            response = StoredResponse(status_code, body, idempotency.request_hash)
        return results, events, response

    async def _check_quota(
        self,
        conn: AsyncConnection,
        new_jobs: Sequence[NewJob],
        inserted: set[str],
        quota: Quota | None,
        now: float,
    ) -> None:
        """Pay for the jobs created and hold the owner to the cap, or raise (rolling back)."""
        charges: dict[str, list[tuple[str, int]]] = {}
        for nj in new_jobs:
            if nj.id in inserted and nj.cost:
                charges.setdefault(nj.owner, []).append((nj.id, nj.cost))
        for owner in sorted(charges):
            await credits.spend(conn, owner, charges[owner], now)
        if quota is None or quota.max_active is None or not inserted:
            return
        for owner in sorted({nj.owner for nj in new_jobs if nj.id in inserted}):
            active = (await conn.execute(_COUNT_ACTIVE, {"owner": owner})).scalar() or 0
            if active > quota.max_active:
                new = sum(1 for nj in new_jobs if nj.id in inserted and nj.owner == owner)
                raise JobLimitExceeded(
                    f"at most {quota.max_active} active jobs per user; "
                    f"{active - new} are active and this adds {new}",
                    {"limit": quota.max_active, "active": active - new, "requested": new},
                )

    async def _active_by_dedupe(
        self, conn: AsyncConnection, owner: str, key: str | None
    ) -> Job | None:
        stmt = select(jobs).where(
            jobs.c.owner == owner, jobs.c.dedupe_key == key, _status_is(ACTIVE)
        )
        row = (await conn.execute(stmt)).first()
        return None if row is None else row_to_job(row)

    async def _stored_response(
        self, conn: AsyncConnection, owner: str, key: str
    ) -> StoredResponse | None:
        stmt = select(
            idempotency_keys.c.status_code,
            idempotency_keys.c.response,
            idempotency_keys.c.request_hash,
        ).where(idempotency_keys.c.owner == owner, idempotency_keys.c.key == key)
        row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return StoredResponse(row[0], row[1].encode(), row[2])

    async def get_idempotent(self, owner: str, key: str) -> StoredResponse | None:
        async with self._read() as conn:
            return await self._stored_response(conn, owner, key)

    # --- reading jobs ----------------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job | None:
        async with self._read() as conn:
            row = (await conn.execute(_GET_JOB, {"id": job_id})).first()
            return None if row is None else row_to_job(row)

    async def get_jobs(self, job_ids: Sequence[str]) -> dict[str, Job]:
        if not job_ids:
            return {}
        found: dict[str, Job] = {}
        async with self._read() as conn:
            for start in range(0, len(job_ids), 500):  # within SQLite's variable limit
                chunk = list(job_ids[start : start + 500])
                rows = await conn.execute(select(jobs).where(jobs.c.id.in_(chunk)))
                found.update((job.id, job) for job in map(row_to_job, rows))
        return found

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        conds: list[ColumnElement[bool]] = []
        if query.owner is not None:
            conds.append(jobs.c.owner == query.owner)
        if query.status is not None:
            conds.append(_status_is([query.status]))
        if query.type is not None:
            conds.append(jobs.c.type == query.type)
        if query.queue is not None:
            conds.append(jobs.c.queue == query.queue)
        if query.before is not None:
            conds.append(jobs.c.id < query.before)
        stmt = select(jobs).where(*conds).order_by(jobs.c.id.desc()).limit(query.limit)
        async with self._read() as conn:
            return [row_to_job(r) for r in await conn.execute(stmt)]

    async def count_jobs(self, owner: str | None) -> list[tuple[str, str, str, int]]:
        stmt = select(jobs.c.queue, jobs.c.type, jobs.c.status, func.count()).group_by(
            jobs.c.queue, jobs.c.type, jobs.c.status
        )
        if owner is not None:
            stmt = stmt.where(jobs.c.owner == owner)
        async with self._read() as conn:
            return [(r[0], r[1], r[2], int(r[3])) for r in await conn.execute(stmt)]

    async def finished_since(
        self, since: float, owner: str | None, limit: int
    ) -> list[FinishedSample]:
        stmt = select(
            jobs.c.queue, jobs.c.status, jobs.c.run_at, jobs.c.started_at, jobs.c.finished_at
        ).where(
            jobs.c.finished_at >= since,
            jobs.c.started_at.is_not(None),
            _status_is(TERMINAL),
        )
        if owner is not None:
            stmt = stmt.where(jobs.c.owner == owner)
        stmt = stmt.order_by(jobs.c.finished_at.desc()).limit(limit)
        async with self._read() as conn:
            return [
                FinishedSample(
                    queue=r[0],
                    status=JobStatus(r[1]),
                    wait_s=max(0.0, r[3] - r[2]),
                    run_s=max(0.0, r[4] - r[3]),
                )
                for r in await conn.execute(stmt)
            ]

    # --- claiming and running --------------------------------------------------------------

    async def claim_jobs(
        self, queues: Sequence[str], worker: str, limit: int, lease_s: float
    ) -> tuple[list[Job], list[Event]]:
        now = time.time()
        ready = (
            select(jobs.c.id)
            .where(_status_is(sources(Action.CLAIM)), jobs.c.queue.in_(list(queues)))
            .order_by(jobs.c.priority.desc(), jobs.c.fair_rank, jobs.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(jobs)
            # No second status test here: the rows are locked (or the database is, on SQLite)
            # since the subquery picked them, and PostgreSQL would plan a scan of the ready
            # index for it instead of primary-key lookups.
            .where(self._id_in_locked(ready))
            .values(
                status=target(Action.CLAIM).value,
                attempts=jobs.c.attempts + 1,
                lease_owner=worker,
                lease_expires_at=now + lease_s,
                started_at=now,
                updated_at=now,
                last_seq=jobs.c.last_seq + 1,
            )
            .returning(*jobs.c)
        )
        async with self._write() as conn:
            claimed = [row_to_job(r) for r in await conn.execute(stmt)]
            claimed.sort(key=lambda j: (-j.priority, j.fair_rank, j.id))
            events = await self._append_events(
                conn,
                [
                    (j.id, j.last_seq, EventType.JOB_STARTED, _started_data(j, worker), j.owner)
                    for j in claimed
                ],
                now,
            )
        return claimed, events

    async def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[Event]:
        if not writes:
            return []
        merged = _merge_writes(writes)
        now = time.time()
        groups: dict[tuple[Action | None, tuple[str, ...]], list[AttemptWrite]] = {}
        for w in merged:
            groups.setdefault((w.action, tuple(sorted(w.values))), []).append(w)
        async with self._write() as conn:
            applied: dict[str, tuple[int, str]] = {}
            failed: list[str] = []
            for (action, keys), group in groups.items():
                done = await self._update_attempts(conn, action, keys, group, now)
                applied.update(done)
                if action is not None and target(action) == JobStatus.FAILED:
                    failed.extend(done)
            # A job that failed for good gives its owner back what it cost.
            await credits.refund(conn, failed, now)
            items: list[_EventRow] = []
            for w in merged:
                if w.job_id not in applied:
                    continue  # the lease was lost: this write did not apply
                last_seq, owner = applied[w.job_id]
                first = last_seq - len(w.events) + 1
                items.extend(
                    (w.job_id, first + i, etype, data, owner)
                    for i, (etype, data) in enumerate(w.events)
                )
            return await self._append_events(conn, items, now)

    async def _update_attempts(
        self,
        conn: AsyncConnection,
        action: Action | None,
        keys: tuple[str, ...],
        group: list[AttemptWrite],
        now: float,
    ) -> dict[str, tuple[int, str]]:
        """Apply writes of one shape; return {job id: (last_seq, owner)} of those that applied.

        Portable form: one executemany, then a read of the rows to see which guards held.
        """
        await conn.execute(_attempt_update(action, keys), [_attempt_params(w, now) for w in group])
        expected = (target(action) if action else JobStatus.RUNNING).value
        wanted = {w.job_id: (w.worker, w.attempt) for w in group}
        rows = await conn.execute(
            select(
                jobs.c.id,
                jobs.c.last_seq,
                jobs.c.status,
                jobs.c.lease_owner,
                jobs.c.attempts,
                jobs.c.owner,
            ).where(jobs.c.id.in_(list(wanted)))
        )
        return {
            r[0]: (r[1], r[5]) for r in rows if r[2] == expected and (r[3], r[4]) == wanted[r[0]]
        }

    async def renew_leases(
        self, worker: str, attempts: dict[str, int], lease_s: float
    ) -> LeaseState:
        if not attempts:
            return LeaseState([], {}, [])
        now = time.time()
        stmt = (
            update(jobs)
            .where(
                jobs.c.id.in_(list(attempts)),
                _status_is([JobStatus.RUNNING]),
                jobs.c.lease_owner == worker,
            )
            .values(lease_expires_at=now + lease_s)
            .returning(jobs.c.id, jobs.c.attempts, jobs.c.cancel_requested_at, jobs.c.cancel_reason)
        )
        async with self._write() as conn:
            rows = (await conn.execute(stmt)).all()
        renewed = [r[0] for r in rows if attempts.get(r[0]) == r[1]]
        cancel = {r[0]: r[3] for r in rows if attempts.get(r[0]) == r[1] and r[2] is not None}
        held = set(renewed)
        return LeaseState(renewed, cancel, [j for j in attempts if j not in held])

    async def expired_attempts(self, now: float, limit: int) -> list[Job]:
        stmt = (
            select(jobs)
            .where(_status_is([JobStatus.RUNNING]), jobs.c.lease_expires_at < now)
            .order_by(jobs.c.lease_expires_at)
            .limit(limit)
        )
        async with self._read() as conn:
            return [row_to_job(r) for r in await conn.execute(stmt)]

    # --- client-driven changes -------------------------------------------------------------

    async def cancel_job(self, job_id: str, reason: str | None) -> tuple[Job, list[Event]]:
        now = time.time()
        async with self._write() as conn:
            stmt = (
                update(jobs)
                .where(jobs.c.id == job_id, _status_is(sources(Action.CANCEL)))
                .values(
                    status=target(Action.CANCEL).value,
                    cancelled_at=now,
                    finished_at=now,
                    cancel_reason=reason,
                    updated_at=now,
                    last_seq=jobs.c.last_seq + 1,
                )
                .returning(*jobs.c)
            )
            row = (await conn.execute(stmt)).first()
            if row is not None:
                job = row_to_job(row)
                await credits.refund(conn, [job.id], now)  # it never started
                data = {"reason": reason, "cancelled_at": iso(now)}
                events = await self._append_events(
                    conn, [(job.id, job.last_seq, EventType.JOB_CANCELLED, data, job.owner)], now
                )
                return job, events
            # A running job is asked to stop; its worker ends it as cancelled after cleanup.
            stmt = (
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    _status_is([JobStatus.RUNNING]),
                    jobs.c.cancel_requested_at.is_(None),
                )
                .values(cancel_requested_at=now, cancel_reason=reason, updated_at=now)
                .returning(*jobs.c)
            )
            row = (await conn.execute(stmt)).first()
            if row is not None:
                return row_to_job(row), []
            job = await self._get(conn, job_id)
            if job.status == JobStatus.RUNNING:
                return job, []  # already asked to stop
            raise InvalidTransition(
                str(TransitionError(job.status, Action.CANCEL)), {"status": job.status.value}
            )

    async def retry_job(
        self, job_id: str, extra_attempts: int = 1, cost: int = 0
    ) -> tuple[Job, list[Event]]:
        now = time.time()
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, _status_is(sources(Action.RETRY)))
            .values(
                status=target(Action.RETRY).value,
                max_attempts=jobs.c.attempts + extra_attempts,
                run_at=now,
                progress=0,
                step=None,
                message=None,
                result=None,
                error=None,
                lease_owner=None,
                lease_expires_at=None,
                started_at=None,
                finished_at=None,
                cancelled_at=None,
                cancel_requested_at=None,
                cancel_reason=None,
                updated_at=now,
                last_seq=jobs.c.last_seq + 1,
            )
            .returning(*jobs.c)
        )
        try:
            async with self._write() as conn:
                row = (await conn.execute(stmt)).first()
                if row is None:
                    job = await self._get(conn, job_id)
                    raise InvalidTransition(
                        str(TransitionError(job.status, Action.RETRY)), {"status": job.status.value}
                    )
                job = row_to_job(row)
                if cost and not job.charged:
                    await credits.spend(conn, job.owner, [(job.id, cost)], now)
                    await conn.execute(update(jobs).where(jobs.c.id == job.id).values(charged=cost))
                    job.charged = cost
                data = {"attempt": job.attempts + 1, "manual": True, "run_at": iso(now)}
                events = await self._append_events(
                    conn, [(job.id, job.last_seq, EventType.JOB_RETRYING, data, job.owner)], now
                )
                return job, events
        except IntegrityError as exc:
            raise InvalidTransition(
                "another active job already has this job's dedupe key", {"reason": "dedupe"}
            ) from exc

    async def _get(self, conn: AsyncConnection, job_id: str) -> Job:
        row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return row_to_job(row)

    # --- maintenance -----------------------------------------------------------------------

    async def promote_due(self, now: float, limit: int) -> list[tuple[str, str]]:
        due = (
            select(jobs.c.id)
            .where(_status_is(sources(Action.PROMOTE)), jobs.c.run_at <= now)
            .order_by(jobs.c.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(jobs)
            .where(self._id_in_locked(due))
            .values(status=target(Action.PROMOTE).value, updated_at=now)
            .returning(jobs.c.id, jobs.c.queue)
        )
        async with self._write() as conn:
            return [(r[0], r[1]) for r in await conn.execute(stmt)]

    async def next_due(self) -> float | None:
        stmt = select(func.min(jobs.c.run_at)).where(_status_is(sources(Action.PROMOTE)))
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar()
            return None if value is None else float(value)

    async def delete_finished(
        self, before: float, statuses: Sequence[JobStatus], limit: int
    ) -> list[str]:
        finished = [s for s in statuses if s in TERMINAL]
        if not finished:
            return []
        pick = (
            select(jobs.c.id).where(_status_is(finished), jobs.c.finished_at < before).limit(limit)
        )
        async with self._write() as conn:
            ids = list((await conn.execute(pick)).scalars())
            if not ids:
                return []
            # The guards are repeated: on SQLite the pick may run before the write lock is
            # taken, and a job could have been retried since.
            gone = delete(jobs).where(
                jobs.c.id.in_(ids), _status_is(finished), jobs.c.finished_at < before
            )
            deleted = list((await conn.execute(gone.returning(jobs.c.id))).scalars())
            if deleted:
                await conn.execute(delete(job_events).where(job_events.c.job_id.in_(deleted)))
                await courses.delete_checkpoints(conn, deleted)
            return deleted

    # --- API keys --------------------------------------------------------------------------

    async def create_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        async with self._write() as conn:
            await keys.insert(conn, record, key_hash)

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        async with self._read() as conn:
            return await keys.by_hash(conn, key_hash)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        async with self._read() as conn:
            return await keys.listing(conn)

    async def revoke_api_key(self, key_id: str, now: float) -> ApiKeyRecord | None:
        async with self._write() as conn:
            return await keys.revoke(conn, key_id, now)

    async def touch_api_key(self, key_id: str, now: float) -> None:
        async with self._write() as conn:
            await keys.touch(conn, key_id, now)

    # --- credits ---------------------------------------------------------------------------

    async def add_credits(
        self, user_id: str, amount: int, kind: str, note: str | None
    ) -> LedgerEntry:
        for _ in range(_MAX_SUBMIT_TRIES):
            try:
                async with self._write() as conn:
                    entries = await credits.give(
                        conn, user_id, [(kind, amount, None, note)], time.time()
                    )
                    return entries[0]
            except IntegrityError:
                continue  # two first grants raced to open the account: the other won
        raise StoreUnavailable("the grant kept racing with other writers; try again")

    async def credit_balance(self, user_id: str) -> int:
        async with self._read() as conn:
            return await credits.balance(conn, user_id)

    async def credit_entries(
        self, user_id: str, limit: int, offset: int
    ) -> tuple[list[LedgerEntry], int]:
        async with self._read() as conn:
            return await credits.entries(conn, user_id, limit, offset)

    # --- secrets ---------------------------------------------------------------------------

    async def shared_secret(self, name: str, candidate: str) -> str:
        async with self._read() as conn:
            value = await keys.secret(conn, name)
        if value is not None:
            return value
        async with self._write() as conn:
            stmt = self._insert(secrets).on_conflict_do_nothing()
            await conn.execute(stmt, {"name": name, "value": candidate, "created_at": time.time()})
            value = await keys.secret(conn, name)
        assert value is not None
        return value

    # --- remote workers --------------------------------------------------------------------

    async def register_worker(self, worker: RemoteWorker) -> None:
        async with self._write() as conn:
            await workers.insert(conn, worker)

    async def get_worker(self, worker_id: str) -> RemoteWorker | None:
        async with self._read() as conn:
            return await workers.by_id(conn, worker_id)

    async def list_workers(self) -> tuple[list[RemoteWorker], dict[str, int]]:
        async with self._read() as conn:
            return await workers.listing(conn), await workers.running_counts(conn)

    async def touch_worker(self, worker_id: str, now: float) -> None:
        async with self._write() as conn:
            await workers.touch(conn, worker_id, now)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        if not worker_ids:
            return 0
        async with self._write() as conn:
            return await workers.delete(conn, list(worker_ids))

    async def set_worker_health(self, worker_id: str, health: dict[str, Any]) -> None:
        async with self._write() as conn:
            await workers.set_health(conn, worker_id, health)

    # --- exams, courses and checkpoints ------------------------------------------------------

    async def create_exam(self, exam: Exam) -> None:
        async with self._write() as conn:
            await courses.insert_exam(conn, exam)

    async def get_exam(self, exam_id: str) -> Exam | None:
        async with self._read() as conn:
            return await courses.exam(conn, exam_id)

    async def list_exams(
        self, owner: str | None, limit: int, offset: int
    ) -> tuple[list[tuple[Exam, int]], int]:
        async with self._read() as conn:
            return await courses.exam_page(conn, owner, limit, offset)

    async def save_course(self, course: Course) -> str:
        async with self._write() as conn:
            return await courses.save_course(conn, course)

    async def get_course(self, course_id: str) -> Course | None:
        async with self._read() as conn:
            return await courses.course(conn, course_id)

    async def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        async with self._read() as conn:
            return await courses.load_checkpoint(conn, job_id)

    async def save_checkpoint(self, job_id: str, data: dict[str, Any]) -> None:
        async with self._write() as conn:
            await courses.save_checkpoint(conn, job_id, data, time.time())


def _started_data(job: Job, worker: str) -> dict[str, Any]:
    return {"attempt": job.attempts, "worker": worker}


def _created_data(nj: NewJob) -> dict[str, Any]:
    return {"type": nj.type, "queue": nj.queue, "status": nj.status.value}


def _merge_writes(writes: Sequence[AttemptWrite]) -> list[AttemptWrite]:
    """One write per attempt, in first-seen order: values merged (later wins), events in order."""
    merged: dict[tuple[str, str, int], AttemptWrite] = {}
    for w in writes:
        key = (w.job_id, w.worker, w.attempt)
        into = merged.get(key)
        if into is None:
            merged[key] = AttemptWrite(
                w.job_id, w.worker, w.attempt, w.action, dict(w.values), list(w.events)
            )
            continue
        into.values.update(w.values)
        into.events.extend(w.events)
        if w.action is not None:
            into.action = w.action
    return list(merged.values())


_update_cache: dict[tuple[Action | None, tuple[str, ...]], Any] = {}


def _attempt_update(action: Action | None, keys: tuple[str, ...]) -> Any:
    """``UPDATE`` of one running attempt, guarded on its lease (cached per shape)."""
    cached = _update_cache.get((action, keys))
    if cached is not None:
        return cached
    # Every attempt write starts from running; the table says so, and the guard follows it.
    if action is not None and sources(action) != {JobStatus.RUNNING}:
        raise ValueError(f"{action.value} does not end a running attempt")
    where = [
        jobs.c.id == bindparam("_id"),
        _status_is([JobStatus.RUNNING]),
        jobs.c.lease_owner == bindparam("_worker"),
        jobs.c.attempts == bindparam("_attempt"),
    ]
    values: dict[str, Any] = {
        "last_seq": jobs.c.last_seq + bindparam("_count"),
        "updated_at": bindparam("_now"),
    }
    for k in keys:
        if k == "_expired_before":
            where.append(jobs.c.lease_expires_at < bindparam("_expired_before"))
        else:
            values[k] = bindparam(f"v_{k}")
    if action is not None:
        values["status"] = target(action).value
        values["lease_expires_at"] = None
    stmt = update(jobs).where(*where).values(**values)
    _update_cache[(action, keys)] = stmt
    return stmt


def _attempt_params(w: AttemptWrite, now: float) -> dict[str, Any]:
    params: dict[str, Any] = {
        "_id": w.job_id,
        "_worker": w.worker,
        "_attempt": w.attempt,
        "_count": len(w.events),
        "_now": now,
    }
    for k, v in w.values.items():
        params[k if k.startswith("_") else f"v_{k}"] = (
            dumps(v) if k in JSON_COLUMNS and v is not None else v
        )
    return params
