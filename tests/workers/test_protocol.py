"""The remote-worker protocol over HTTP: register, claim, report, heartbeat, finish, and
what a worker may not do."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.test_sse import collect
from tests.auth.conftest import AUTH_SETTINGS, bearer, token
from tests.conftest import RunningServer, ServerFactory


async def worker_key(server: RunningServer, name: str = "gpu") -> dict[str, str]:
    """An API key of role worker, made by an admin."""
    async with server.client() as c:
        made = await c.post(
            "/v1/keys",
            json={"name": name, "role": "worker"},
            headers=bearer(token("root", role="admin")),
        )
    assert made.status_code == 201, made.text
    return {"X-API-Key": made.json()["key"]}


async def register(c: httpx.AsyncClient, headers: dict[str, str], **kw: Any) -> str:
    body = {"name": "gpu-1", "queues": ["sdxl_queue"], "max_concurrency": 2, **kw}
    answer = await c.post("/v1/workers", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_a_remote_worker_runs_a_job_with_live_events(start_server: ServerFactory) -> None:
    server = await start_server(**AUTH_SETTINGS, heartbeat_s=0.5)
    alice = bearer(token("alice"))
    key = await worker_key(server)
    async with server.client() as c:
        wid = await register(c, key)
        # A long poll that work arrives during.
        claim = asyncio.create_task(
            c.post(f"/v1/workers/{wid}/claim", json={"max": 2, "wait_s": 10}, headers=key)
        )
        await asyncio.sleep(0.3)
        job = (
            await c.post(
                "/v1/jobs",
                json={"type": "sdxl_image_fast", "params": {"prompt": "a cat"}},
                headers=alice,
            )
        ).json()
        assert job["queue"] == "sdxl_queue"
        claimed = (await claim).json()["jobs"]
        assert [j["id"] for j in claimed] == [job["id"]]
        watcher = server.client(headers=alice)
        watch = asyncio.create_task(collect(watcher, f"/v1/jobs/{job['id']}/events"))
        events = [
            {"type": "step_started", "data": {"step": "denoise", "stepIndex": 1}},
            {"type": "step_progress", "data": {"progress": 60, "message": "step 30/50"}},
            {"type": "log", "data": {"message": "vram ok"}},
        ]
        reported = await c.post(
            f"/v1/workers/{wid}/jobs/{job['id']}/events",
            json={"attempt": 1, "events": events},
            headers=key,
        )
        assert reported.status_code == 204
        uploaded = await c.put(
            f"/v1/workers/{wid}/jobs/{job['id']}/files/out.png?attempt=1",
            content=b"\x89PNG-bytes",
            headers={**key, "Content-Type": "image/png"},
        )
        assert uploaded.status_code == 201
        stored = await c.get(uploaded.json()["url"])
        assert stored.content == b"\x89PNG-bytes"
        assert stored.headers["content-type"] == "image/png"
        beat = await c.post(
            f"/v1/workers/{wid}/heartbeat", json={"attempts": {job["id"]: 1}}, headers=key
        )
        assert beat.json()["renewed"] == [job["id"]]
        done = await c.post(
            f"/v1/workers/{wid}/jobs/{job['id']}/complete",
            json={"attempt": 1, "result": {"seed": 7}, "output_urls": ["https://cdn/x.png"]},
            headers=key,
        )
        assert done.json()["status"] == "completed"
        late = await c.put(
            f"/v1/workers/{wid}/jobs/{job['id']}/files/late.png?attempt=1",
            content=b"x",
            headers=key,
        )
        assert late.status_code == 409  # the attempt has ended
        messages = await watch
        await watcher.aclose()
        registry = (await c.get("/v1/workers", headers=bearer(token("root", role="admin")))).json()
    kinds = [m.event for m in messages if m.event != "snapshot"]
    assert kinds[-4:] == ["step_started", "step_progress", "log", "job_completed"]
    assert done.json()["result"]["outputUrls"] == ["https://cdn/x.png"]
    assert registry["workers"][0]["status"] == "healthy"


async def test_workers_act_only_on_their_own_leases(start_server: ServerFactory) -> None:
    server = await start_server(**AUTH_SETTINGS)
    key, other_key = await worker_key(server, "a"), await worker_key(server, "b")
    async with server.client() as c:
        wid = await register(c, key)
        other = await register(c, other_key)
        job = (
            await c.post(
                "/v1/jobs",
                json={"type": "sdxl_image_fast", "params": {"prompt": "a cat"}},
                headers=bearer(token("alice")),
            )
        ).json()
        await c.post(f"/v1/workers/{wid}/claim", json={"wait_s": 0}, headers=key)
        path = f"/v1/jobs/{job['id']}"
        # Another key cannot act as this worker; another worker holds no lease.
        assert (
            await c.post(f"/v1/workers/{wid}/heartbeat", json={}, headers=other_key)
        ).status_code == 404
        stolen = await c.post(
            f"/v1/workers/{other}/jobs/{job['id']}/complete", json={"attempt": 1}, headers=other_key
        )
        assert stolen.status_code == 409
        assert stolen.json()["code"] == "LEASE_LOST"
        stale = await c.post(
            f"/v1/workers/{wid}/jobs/{job['id']}/complete", json={"attempt": 2}, headers=key
        )
        assert stale.status_code == 409
        forged = await c.post(
            f"/v1/workers/{wid}/jobs/{job['id']}/events",
            json={"attempt": 1, "events": [{"type": "job_completed", "data": {}}]},
            headers=key,
        )
        assert forged.status_code == 400
        # Worker keys are for this protocol only; users' tokens are not worker credentials.
        assert (await c.get(path, headers=key)).status_code == 403
        assert (
            await c.post(
                "/v1/workers", json={"name": "x", "queues": ["q"]}, headers=bearer(token("alice"))
            )
        ).status_code == 403
        failed = await c.post(
            f"/v1/workers/{wid}/jobs/{job['id']}/fail",
            json={
                "attempt": 1,
                "error": {"code": "CUDA_OOM", "message": "out of memory"},
                "retryable": False,
            },
            headers=key,
        )
        assert failed.json()["status"] == "failed"
        assert failed.json()["error"]["code"] == "CUDA_OOM"


async def test_a_batch_applies_many_attempts_writes_and_says_which_were_refused(
    start_server: ServerFactory,
) -> None:
    server = await start_server(**AUTH_SETTINGS)
    key = await worker_key(server)
    alice = bearer(token("alice"))
    async with server.client() as c:
        wid = await register(c, key, max_concurrency=3)
        ids = [
            (
                await c.post(
                    "/v1/jobs",
                    json={"type": "sdxl_image_fast", "params": {"prompt": f"cat {i}"}},
                    headers=alice,
                )
            ).json()["id"]
            for i in range(3)
        ]
        claimed = await c.post(
            f"/v1/workers/{wid}/claim", json={"max": 3, "wait_s": 0}, headers=key
        )
        assert len(claimed.json()["jobs"]) == 3
        done, failing, stale = ids
        progress = {"type": "step_progress", "data": {"progress": 50, "step": "denoise"}}
        batch = {
            "writes": [
                {"job_id": done, "attempt": 1, "events": [progress]},
                {"job_id": done, "attempt": 1, "end": "complete", "result": {"n": 1}},
                {
                    "job_id": failing,
                    "attempt": 1,
                    "end": "fail",
                    "error": {"code": "CUDA_OOM", "message": "out of memory"},
                },
                {"job_id": stale, "attempt": 2, "events": [progress]},
                {"job_id": stale, "attempt": 1, "end": "cancelled"},
            ]
        }
        answer = await c.post(f"/v1/workers/{wid}/batch", json=batch, headers=key)
        # A forbidden event refuses the whole batch, and nothing of it is applied.
        bad = {
            "writes": [
                {"job_id": stale, "attempt": 1, "events": [progress]},
                {"job_id": stale, "attempt": 1, "events": [{"type": "job_failed", "data": {}}]},
            ]
        }
        refused = await c.post(f"/v1/workers/{wid}/batch", json=bad, headers=key)
        jobs = {j: (await c.get(f"/v1/jobs/{j}", headers=alice)).json() for j in ids}
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["written"]) == sorted([done, failing])
    assert answer.json()["refused"] == {stale: "NOT_CANCELLED"}
    assert jobs[done]["status"] == "completed"
    assert jobs[done]["result"] == {"n": 1}
    assert jobs[done]["step"] == "denoise"
    assert jobs[failing]["status"] == "delayed"  # retryable: the job type's backoff
    assert jobs[failing]["error"]["code"] == "CUDA_OOM"
    assert refused.status_code == 400
    assert jobs[stale]["status"] == "running"
    assert jobs[stale]["progress"] == 0
