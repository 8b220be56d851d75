"""Rate limits, the cap on active jobs, fair claiming and credits, through the HTTP API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.auth.conftest import AUTH_SETTINGS, bearer, token
from tests.conftest import RunningServer, ServerFactory

ALICE, BOB = bearer(token("alice")), bearer(token("bob"))
ADMIN = bearer(token("root", role="admin"))


async def count_jobs(c: httpx.AsyncClient) -> int:
    return len((await c.get("/v1/jobs", params={"limit": 1000}, headers=ADMIN)).json()["jobs"])


async def test_rate_limits_count_per_user_with_headers_and_429(
    start_server: ServerFactory,
) -> None:
    limits = {"user": {"api": "5/minute", "jobs": "3/hour"}}
    server = await start_server(run_workers=False, **{**AUTH_SETTINGS, "rate_limits": limits})
    async with server.client() as c:
        seen = []
        for _ in range(5):
            r = await c.get("/v1/jobs", headers=ALICE)
            assert r.status_code == 200
            assert r.headers["x-ratelimit-limit"] == "5"
            seen.append(int(r.headers["x-ratelimit-remaining"]))
            assert int(r.headers["x-ratelimit-reset"]) >= int(time.time())
        assert seen == [4, 3, 2, 1, 0]
        over = await c.get("/v1/jobs", headers=ALICE)
        assert over.status_code == 429
        assert over.json()["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert over.headers["x-ratelimit-remaining"] == "0"
        # Per principal: bob has his own counter; admins are not limited at all.
        assert (await c.get("/v1/jobs", headers=BOB)).status_code == 200
        free = await c.get("/v1/jobs", headers=ADMIN)
        assert free.status_code == 200
        assert "x-ratelimit-limit" not in free.headers
        # Job creation has its own limit, and a batch counts each job.
        batch = {"jobs": [{"type": "noop"}, {"type": "noop"}]}
        assert (await c.post("/v1/jobs/batch", json=batch, headers=BOB)).status_code == 201
        r = await c.post("/v1/jobs/batch", json=batch, headers=BOB)
        assert r.status_code == 429
        assert r.json()["details"]["group"] == "jobs"
        assert await count_jobs(c) == 2  # the refused batch created nothing


async def test_active_jobs_are_capped_per_user_even_when_racing(
    start_server: ServerFactory,
) -> None:
    server = await start_server(
        run_workers=False, **{**AUTH_SETTINGS, "max_active_jobs": {"user": 5}}
    )
    async with server.client() as c:
        answers = await asyncio.gather(
            *(c.post("/v1/jobs", json={"type": "noop"}, headers=ALICE) for _ in range(20))
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] * 5 + [429] * 15
        refused = next(r for r in answers if r.status_code == 429).json()
        assert refused["code"] == "JOB_LIMIT_EXCEEDED"
        assert refused["details"]["limit"] == 5
        assert await count_jobs(c) == 5
        # A finished job frees its place; admins are not capped.
        first = next(r for r in answers if r.status_code == 201).json()
        await c.post(f"/v1/jobs/{first['id']}/cancel", headers=ALICE)
        assert (await c.post("/v1/jobs", json={"type": "noop"}, headers=ALICE)).status_code == 201
        for _ in range(7):
            r = await c.post("/v1/jobs", json={"type": "noop"}, headers=ADMIN)
            assert r.status_code == 201


async def test_one_users_thousand_jobs_do_not_starve_anothers_one(
    auth_server: RunningServer,
) -> None:
    async with auth_server.client() as c:
        batch = {"jobs": [{"type": "noop"} for _ in range(1000)]}
        assert (await c.post("/v1/jobs/batch", json=batch, headers=ALICE)).status_code == 201
        store = auth_server.node.store
        first, _ = await store.claim_jobs(["default"], "w1", 3, 30)  # alice's, being served
        bob = (await c.post("/v1/jobs", json={"type": "noop"}, headers=BOB)).json()
        more = (await c.post("/v1/jobs/batch", json=batch, headers=ALICE)).json()
        assert more["created"] == 1000
    claimed: list[str] = []
    for _ in range(3):
        jobs, _ = await store.claim_jobs(["default"], "w1", 2, 30)
        claimed.extend(j.id for j in jobs)
    assert [j.owner for j in first] == ["alice"] * 3
    # Next-but-one at the latest, ahead of 1,997 of alice's jobs.
    assert bob["id"] in claimed[:2], claimed
    # Alice's own jobs still run in the order she sent them.
    alices = [i for i in claimed if i != bob["id"]]
    assert alices == sorted(alices)


async def _credits_server(start_server: ServerFactory, **extra: Any) -> RunningServer:
    costs = {"noop": 1, "demo.steps": 2}
    return await start_server(**{**AUTH_SETTINGS, "credit_costs": costs, **extra})


async def test_credits_never_go_negative_under_concurrent_submissions(
    start_server: ServerFactory,
) -> None:
    server = await _credits_server(start_server, run_workers=False)
    async with server.client() as c:
        r = await c.post(
            "/v1/billing/grants", json={"user_id": "alice", "amount": 10}, headers=ADMIN
        )
        assert r.status_code == 201
        assert r.json()["balance"] == 10
        answers = await asyncio.gather(
            *(c.post("/v1/jobs", json={"type": "noop"}, headers=ALICE) for _ in range(50))
        )
        codes = [r.status_code for r in answers]
        assert codes.count(201) == 10
        assert codes.count(402) == 40
        refused = next(r for r in answers if r.status_code == 402).json()
        assert refused["code"] == "INSUFFICIENT_CREDITS"
        assert refused["details"] == {"required": 1, "available": 0}
        balance = (await c.get("/v1/billing/balance", headers=ALICE)).json()
        assert balance["balance"] == 0
        usage = (await c.get("/v1/billing/usage", params={"limit": 100}, headers=ALICE)).json()
        assert usage["total"] == 11
        kinds = [e["kind"] for e in usage["entries"]]
        assert kinds.count("consume") == 10
        assert sum(e["amount"] for e in usage["entries"]) == 0  # the ledger adds up
        assert await count_jobs(c) == 10
        # Pages, and someone else's ledger is not readable.
        page = (
            await c.get("/v1/billing/usage", params={"limit": 5, "offset": 5}, headers=ALICE)
        ).json()
        assert [e["id"] for e in page["entries"]] == [e["id"] for e in usage["entries"][5:10]]
        assert (
            await c.get("/v1/billing/balance", params={"user_id": "bob"}, headers=ALICE)
        ).status_code == 403


async def test_refunds_come_once_for_cancelled_and_failed_jobs_only(
    start_server: ServerFactory,
) -> None:
    server = await _credits_server(start_server, run_workers=True)
    async with server.client() as c:
        await c.post("/v1/billing/grants", json={"user_id": "alice", "amount": 10}, headers=ADMIN)

        async def balance() -> int:
            return (await c.get("/v1/billing/balance", headers=ALICE)).json()["balance"]

        # Cancelled before it starts: refunded, once, however often it is cancelled.
        later = {"type": "noop", "delay_s": 3600}
        job = (await c.post("/v1/jobs", json=later, headers=ALICE)).json()
        assert job["credits_held"] == 1
        assert await balance() == 9
        assert (await c.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE)).status_code == 200
        assert (await c.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE)).status_code == 409
        assert await balance() == 10
        # Failed for good, after its retries: refunded once.
        failing = {"type": "demo.steps", "params": {"steps": 1, "step_ms": 1, "fail_step": 1},
                   "max_attempts": 2}  # fmt: skip
        failed = (await c.post("/v1/jobs", json=failing, headers=ALICE)).json()
        done = {"type": "demo.steps", "params": {"steps": 1, "step_ms": 1}}
        completed = (await c.post("/v1/jobs", json=done, headers=ALICE)).json()
        assert await balance() == 6
        await wait_for_end(c, completed["id"], "completed")
        await wait_for_end(c, failed["id"], "failed")
        assert await balance() == 8  # the failed job's 2 back; the completed one's kept
        # Retrying a refunded job charges it again; failing again refunds again.
        retried = await c.post(f"/v1/jobs/{failed['id']}/retry", headers=ALICE)
        assert retried.json()["credits_held"] == 2
        await wait_for_end(c, failed["id"], "failed")
        assert await balance() == 8
        usage = (await c.get("/v1/billing/usage", params={"limit": 100}, headers=ALICE)).json()
        moves = sorted((e["kind"], e["job_id"], e["amount"]) for e in usage["entries"][:-1])
        assert moves == sorted(
            [
                ("consume", job["id"], -1),
                ("refund", job["id"], 1),
                ("consume", failed["id"], -2),
                ("refund", failed["id"], 2),
                ("consume", completed["id"], -2),
                ("consume", failed["id"], -2),
                ("refund", failed["id"], 2),
            ]
        )


async def wait_for_end(c: httpx.AsyncClient, job_id: str, status: str) -> None:
    for _ in range(1000):
        state = (await c.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
        if state["status"] == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job_id} is {state['status']}, not {status}")
