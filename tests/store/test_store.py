"""The store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from genq.domain.errors import InvalidTransition, JobNotFound
from genq.domain.ids import uuid7
from genq.domain.states import Action, JobStatus
from genq.store.base import AttemptWrite, Idempotency, JobQuery, NewJob
from genq.store.schema import job_events, jobs
from genq.store.sql import SqlStore


def new_job(
    priority: int = 0, dedupe_key: str | None = None, delay: float = 0, **kw: object
) -> NewJob:
    now = time.time()
    return NewJob(
        id=uuid7(),
        type="noop",
        queue=str(kw.get("queue", "default")),
        owner=str(kw.get("owner", "u1")),
        params={"n": 1},
        max_attempts=3,
        run_at=now + delay,
        created_at=now,
        priority=priority,
        dedupe_key=dedupe_key,
    )


async def count(store: SqlStore, table=jobs) -> int:  # type: ignore[no-untyped-def]
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def test_submit_writes_the_job_and_its_created_event(store: SqlStore) -> None:
    results, events, _ = await store.submit_jobs([new_job()])
    job = results[0].job
    assert results[0].created
    assert job.status == JobStatus.QUEUED
    assert [(e.job_id, e.seq, e.type) for e in events] == [(job.id, 1, "job_created")]
    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.params == {"n": 1}
    assert stored.last_seq == 1


async def test_get_jobs_reads_many_by_id_and_leaves_out_unknown_ones(store: SqlStore) -> None:
    results, _, _ = await store.submit_jobs([new_job() for _ in range(600)])
    ids = [r.job.id for r in results]
    found = await store.get_jobs([*ids, "no-such-job"])
    assert set(found) == set(ids)  # across more than one chunk of 500
    assert all(found[i].id == i and found[i].params == {"n": 1} for i in ids)
    assert await store.get_jobs([]) == {}


async def test_a_future_run_at_makes_the_job_delayed(store: SqlStore) -> None:
    results, _, _ = await store.submit_jobs([new_job(delay=60)])
    assert results[0].job.status == JobStatus.DELAYED


async def test_claim_takes_best_priority_then_oldest(store: SqlStore) -> None:
    low, high, old, young = new_job(0), new_job(5), new_job(1), new_job(1)
    await store.submit_jobs([low, high, old, young])
    claimed, events = await store.claim_jobs(["default"], "w", 3, 30)
    assert [j.id for j in claimed] == [high.id, old.id, young.id]
    assert all(j.status == JobStatus.RUNNING and j.attempts == 1 for j in claimed)
    assert {(e.type, e.seq) for e in events} == {("job_started", 2)}
    rest, _ = await store.claim_jobs(["default"], "w", 10, 30)
    assert [j.id for j in rest] == [low.id]


async def test_claim_only_serves_the_asked_queues(store: SqlStore) -> None:
    await store.submit_jobs([new_job(queue="a"), new_job(queue="b")])
    claimed, _ = await store.claim_jobs(["b"], "w", 10, 30)
    assert [j.queue for j in claimed] == ["b"]


async def test_concurrent_claims_never_take_a_job_twice(store: SqlStore) -> None:
    await store.submit_jobs([new_job() for _ in range(200)])
    batches = await asyncio.gather(
        *(store.claim_jobs(["default"], f"w{i}", 20, 30) for i in range(12))
    )
    ids = [j.id for claimed, _ in batches for j in claimed]
    assert len(ids) == len(set(ids)) == 200


async def test_dedupe_key_returns_the_active_job(store: SqlStore) -> None:
    first, _, _ = await store.submit_jobs([new_job(dedupe_key="exam-1")])
    again, events, _ = await store.submit_jobs([new_job(dedupe_key="exam-1")])
    assert not again[0].created
    assert again[0].job.id == first[0].job.id
    assert events == []
    other_owner, _, _ = await store.submit_jobs([new_job(dedupe_key="exam-1", owner="u2")])
    assert other_owner[0].created
    assert await count(store) == 2


async def test_fifty_concurrent_submissions_with_one_dedupe_key_make_one_job(
    store: SqlStore,
) -> None:
    results = await asyncio.gather(
        *(store.submit_jobs([new_job(dedupe_key="k")]) for _ in range(50))
    )
    assert sum(r[0][0].created for r in results) == 1
    assert len({r[0][0].job.id for r in results}) == 1
    assert await count(store) == 1


async def test_dedupe_key_is_free_again_once_the_job_finished(store: SqlStore) -> None:
    first, _, _ = await store.submit_jobs([new_job(dedupe_key="k")])
    await store.cancel_job(first[0].job.id, None)
    again, _, _ = await store.submit_jobs([new_job(dedupe_key="k")])
    assert again[0].created
    assert again[0].job.id != first[0].job.id


async def test_a_batch_is_all_or_nothing(store: SqlStore) -> None:
    dup = new_job()
    with pytest.raises(Exception):  # noqa: B017, PT011 - a duplicate id breaks the batch
        await store.submit_jobs([new_job(), dup, dup])
    assert await count(store) == 0
    assert await count(store, job_events) == 0


async def test_idempotency_key_returns_the_first_response_and_creates_nothing(
    store: SqlStore,
) -> None:
    idem = Idempotency("u1", "key-1", "hash")
    _, _, first = await store.submit_jobs([new_job()], idem, lambda r: (201, b'{"first":1}'))
    results, events, second = await store.submit_jobs([new_job()], idem, lambda r: (201, b"{}"))
    assert first is not None
    assert second is not None
    assert second.body == b'{"first":1}'
    assert results == []
    assert events == []
    assert await count(store) == 1


async def test_concurrent_idempotent_submissions_create_one_job(store: SqlStore) -> None:
    idem = Idempotency("u1", "same", "hash")
    answers = await asyncio.gather(
        *(
            store.submit_jobs([new_job()], idem, lambda r: (201, r[0].job.id.encode()))
            for _ in range(20)
        )
    )
    bodies = {a[2].body for a in answers if a[2] is not None}
    assert len(bodies) == 1
    assert await count(store) == 1


async def test_attempt_writes_apply_only_while_the_lease_holds(store: SqlStore) -> None:
    await store.submit_jobs([new_job(), new_job()])
    (a, b), _ = await store.claim_jobs(["default"], "w1", 2, 30)
    written = await store.record_attempts(
        [
            AttemptWrite(
                a.id, "w1", 1, None, {"progress": 40}, [("step_progress", {"progress": 40})]
            ),
            AttemptWrite(
                a.id, "w1", 1, Action.COMPLETE, {"result": {"ok": True}}, [("job_completed", {})]
            ),
            AttemptWrite(b.id, "intruder", 1, Action.COMPLETE, {}, [("job_completed", {})]),
            AttemptWrite(b.id, "w1", 2, Action.COMPLETE, {}, [("job_completed", {})]),
        ]
    )
    assert [(e.job_id, e.seq, e.type) for e in written] == [
        (a.id, 3, "step_progress"),
        (a.id, 4, "job_completed"),
    ]
    done, still = await store.get_job(a.id), await store.get_job(b.id)
    assert done is not None
    assert done.status == JobStatus.COMPLETED
    assert done.result == {"ok": True}
    assert still is not None
    assert still.status == JobStatus.RUNNING
    assert still.last_seq == 2


async def test_event_sequences_are_dense_and_ordered(store: SqlStore) -> None:
    await store.submit_jobs([new_job()])
    (job,), _ = await store.claim_jobs(["default"], "w", 1, 30)
    for i in range(5):
        await store.record_attempts(
            [AttemptWrite(job.id, "w", 1, None, {}, [("log", {"i": i}), ("log", {"i": -i})])]
        )
    events = await store.read_events(job.id, 0)
    assert [e.seq for e in events] == list(range(1, 13))
    assert [e.seq for e in await store.read_events(job.id, 10)] == [11, 12]
    cursors = [e.cursor for e in events]
    assert cursors == sorted(cursors)


async def test_cancel_a_queued_job_now_and_a_running_one_by_request(store: SqlStore) -> None:
    await store.submit_jobs([new_job(), new_job(priority=-1)])
    (running,), _ = await store.claim_jobs(["default"], "w", 1, 30)
    (queued,) = await store.list_jobs(JobQuery(status=JobStatus.QUEUED))
    job, events = await store.cancel_job(queued.id, "changed my mind")
    assert job.status == JobStatus.CANCELLED
    assert events[0].type == "job_cancelled"
    job, events = await store.cancel_job(running.id, "stop")
    assert job.status == JobStatus.RUNNING
    assert job.cancel_requested_at is not None
    assert events == []
    state = await store.renew_leases("w", {running.id: 1}, 30)
    assert state.cancel_requested == {running.id: "stop"}


async def test_cancelling_a_finished_job_is_refused_and_changes_nothing(store: SqlStore) -> None:
    await store.submit_jobs([new_job()])
    (job,), _ = await store.claim_jobs(["default"], "w", 1, 30)
    await store.record_attempts(
        [AttemptWrite(job.id, "w", 1, Action.COMPLETE, {}, [("job_completed", {})])]
    )
    before = await store.get_job(job.id)
    with pytest.raises(InvalidTransition):
        await store.cancel_job(job.id, None)
    assert await store.get_job(job.id) == before
    with pytest.raises(JobNotFound):
        await store.cancel_job(uuid7(), None)


async def test_retry_queues_a_failed_job_with_fresh_attempts(store: SqlStore) -> None:
    await store.submit_jobs([new_job()])
    (job,), _ = await store.claim_jobs(["default"], "w", 1, 30)
    await store.record_attempts(
        [AttemptWrite(job.id, "w", 1, Action.FAIL, {"error": {"code": "X"}}, [("job_failed", {})])]
    )
    again, events = await store.retry_job(job.id, 3)
    assert again.status == JobStatus.QUEUED
    assert again.error is None
    assert again.max_attempts == 4
    assert events[0].type == "job_retrying"
    with pytest.raises(InvalidTransition):
        await store.retry_job(job.id, 3)


async def test_expired_leases_are_found_and_renewal_reports_lost_ones(store: SqlStore) -> None:
    await store.submit_jobs([new_job(), new_job()])
    (a, b), _ = await store.claim_jobs(["default"], "w", 2, 0.01)
    await asyncio.sleep(0.05)
    expired = await store.expired_attempts(time.time(), 10)
    assert {j.id for j in expired} == {a.id, b.id}
    state = await store.renew_leases("other", {a.id: 1}, 30)
    assert state.lost == [a.id]
    assert state.renewed == []


async def test_promote_due_moves_delayed_jobs_to_queued(store: SqlStore) -> None:
    soon, later = new_job(delay=5), new_job(delay=3600)
    await store.submit_jobs([soon, later])
    assert await store.promote_due(soon.run_at - 1, 10) == []
    assert await store.next_due() == pytest.approx(soon.run_at)
    promoted = await store.promote_due(soon.run_at + 1, 10)
    assert len(promoted) == 1
    assert promoted[0] == (soon.id, "default")


async def test_delete_finished_removes_old_jobs_with_their_events(store: SqlStore) -> None:
    await store.submit_jobs([new_job(), new_job()])
    (job, keep), _ = await store.claim_jobs(["default"], "w", 2, 30)
    await store.record_attempts(
        [
            AttemptWrite(
                job.id,
                "w",
                1,
                Action.COMPLETE,
                {"finished_at": time.time() - 100},
                [("job_completed", {})],
            )
        ]
    )
    assert await store.delete_finished(time.time() - 50, [JobStatus.FAILED], 10) == []
    assert len(await store.delete_finished(time.time() - 50, [JobStatus.COMPLETED], 10)) == 1
    assert await store.get_job(job.id) is None
    assert await store.read_events(job.id, 0) == []
    assert await store.get_job(keep.id) is not None


async def test_list_jobs_pages_newest_first(store: SqlStore) -> None:
    made = [new_job() for _ in range(5)]
    await store.submit_jobs(made)
    page1 = await store.list_jobs(JobQuery(limit=3))
    page2 = await store.list_jobs(JobQuery(limit=3, before=page1[-1].id))
    assert [j.id for j in page1 + page2] == [j.id for j in reversed(made)]


async def test_schema_is_at_the_head_revision(store: SqlStore) -> None:
    from genq.store.migrate import HEAD_REVISION

    assert await store.schema_revision() == HEAD_REVISION
