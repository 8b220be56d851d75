"""The native /v1 jobs API over real HTTP, on both databases: answers and every bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from genq.domain.ids import uuid7
from genq.domain.workers import SEED_004_ROUTES
from genq.store.migrate import HEAD_REVISION
from tests.conftest import RunningServer, ServerFactory

BUILT_IN = ["concept", "course", "demo.steps", "image", "noop", "prompt.enhance"]

JSON = {"content-type": "application/json"}


async def wait_status(client: httpx.AsyncClient, job_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(750):
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in statuses:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job_id} never reached {statuses}")


async def snapshot(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every job as the API shows it: what 'unchanged' is checked against."""
    return (await client.get("/v1/jobs", params={"limit": 1000})).json()["jobs"]


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert set(body) >= {"error", "message", "code", "timestamp"}
    assert "Traceback" not in response.text
    return body


@pytest.fixture
async def server(start_server: ServerFactory) -> RunningServer:
    return await start_server()


async def test_submit_watch_and_read_a_job(server: RunningServer) -> None:
    async with server.client() as c:
        r = await c.post(
            "/v1/jobs", json={"type": "demo.steps", "params": {"steps": 2, "step_ms": 20}}
        )
        assert r.status_code == 201
        job = r.json()
        assert job["status"] == "queued"
        assert job["queue"] == "default"
        assert job["owner"] == "local"
        done = await wait_status(c, job["id"], "completed")
        assert done["result"]["steps"] == 2
        assert done["progress"] == 100


async def test_batch_submits_all_jobs_in_one_go(server: RunningServer) -> None:
    async with server.client() as c:
        r = await c.post("/v1/jobs/batch", json={"jobs": [{"type": "noop"} for _ in range(300)]})
        assert r.status_code == 201
        assert r.json()["created"] == 300
        ids = [j["id"] for j in r.json()["jobs"]]
        for job_id in ids[-3:]:
            await wait_status(c, job_id, "completed")


async def test_list_filters_and_cursor_pagination(server: RunningServer) -> None:
    async with server.client() as c:
        made = [
            (await c.post("/v1/jobs", json={"type": "noop", "delay_s": 3600})).json()["id"]
            for _ in range(5)
        ]
        page = (await c.get("/v1/jobs", params={"limit": 2, "status": "delayed"})).json()
        seen = [j["id"] for j in page["jobs"]]
        while page["next_cursor"]:
            page = (
                await c.get(
                    "/v1/jobs",
                    params={"limit": 2, "status": "delayed", "cursor": page["next_cursor"]},
                )
            ).json()
            seen += [j["id"] for j in page["jobs"]]
        assert seen == list(reversed(made))
        assert (await c.get("/v1/jobs", params={"type": "demo.steps"})).json()["jobs"] == []


async def test_dedupe_hit_answers_200_with_the_active_job(server: RunningServer) -> None:
    async with server.client() as c:
        body = {"type": "noop", "dedupe_key": "exam-42", "delay_s": 3600}
        first = await c.post("/v1/jobs", json=body)
        second = await c.post("/v1/jobs", json=body)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]


async def test_fifty_concurrent_submissions_with_one_dedupe_key(server: RunningServer) -> None:
    async with server.client() as c:
        body = {"type": "noop", "dedupe_key": "one", "delay_s": 3600}
        answers = await asyncio.gather(*(c.post("/v1/jobs", json=body) for _ in range(50)))
        assert sorted(a.status_code for a in answers) == [200] * 49 + [201]
        assert len({a.json()["id"] for a in answers}) == 1
        assert len(await snapshot(c)) == 1


async def test_idempotency_key_replays_the_first_response(server: RunningServer) -> None:
    async with server.client() as c:
        headers = {"Idempotency-Key": "req-1"}
        first = await c.post("/v1/jobs", json={"type": "noop", "delay_s": 60}, headers=headers)
        again = await c.post("/v1/jobs", json={"type": "noop", "delay_s": 60}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        before = await snapshot(c)
        other = await c.post("/v1/jobs", json={"type": "noop", "delay_s": 61}, headers=headers)
        assert_envelope(other, 409, "IDEMPOTENCY_KEY_REUSED")
        assert await snapshot(c) == before


async def test_cancel_a_waiting_job_then_retry_it(server: RunningServer) -> None:
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop", "delay_s": 3600})).json()
        r = await c.post(f"/v1/jobs/{job['id']}/cancel", json={"reason": "no longer needed"})
        assert r.status_code == 200
        assert r.json()["status"] == "cancelled"
        assert r.json()["cancel_reason"] == "no longer needed"
        r = await c.post(f"/v1/jobs/{job['id']}/retry")
        assert r.status_code == 200
        assert r.json()["status"] == "queued"
        await wait_status(c, job["id"], "completed")


async def test_cancel_a_running_job_answers_202_then_it_ends_cancelled(
    server: RunningServer,
) -> None:
    async with server.client() as c:
        job = (
            await c.post(
                "/v1/jobs", json={"type": "demo.steps", "params": {"steps": 50, "step_ms": 200}}
            )
        ).json()
        await wait_status(c, job["id"], "running")
        r = await c.post(f"/v1/jobs/{job['id']}/cancel")
        assert r.status_code == 202
        assert r.json()["cancel_requested"] is True
        await wait_status(c, job["id"], "cancelled")


async def test_queue_stats_and_clean(server: RunningServer) -> None:
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop"})).json()
        await wait_status(c, job["id"], "completed")
        stats = (await c.get("/v1/queues")).json()
        (default,) = stats["queues"]
        assert default["counts"]["completed"] == 1
        assert default["finished_in_window"] == 1
        assert default["wait_ms"]["p50"] is not None
        r = await c.post("/v1/queues/clean", json={"grace_s": 0, "status": "completed"})
        assert r.json()["deleted"] == 1
        assert_envelope(await c.get(f"/v1/jobs/{job['id']}"), 404, "JOB_NOT_FOUND")


async def test_health_readiness_metrics_and_openapi(server: RunningServer) -> None:
    async with server.client() as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        ready = (await c.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert ready["schema"] == HEAD_REVISION
        await c.post("/v1/jobs", json={"type": "noop", "delay_s": 60})
        text = (await c.get("/metrics")).text
        assert 'genq_jobs{queue="default",status="delayed",type="noop"} 1.0' in text
        assert "genq_http_request_duration_seconds_bucket" in text
        assert "genq_sse_connections" in text
        spec = (await c.get("/openapi.json")).json()
        assert "/v1/jobs" in spec["paths"]
        assert "/v1/jobs/{job_id}/events" in spec["paths"]
        assert (await c.get("/docs")).status_code == 200
        types = (await c.get("/v1/job-types")).json()["types"]
        assert [t["name"] for t in types] == sorted([*BUILT_IN, *SEED_004_ROUTES])


BAD_INPUTS = [
    pytest.param(
        "POST", "/v1/jobs", {"json": {"params": {}}}, 400, "INVALID_REQUEST", id="missing-type"
    ),
    pytest.param(
        "POST", "/v1/jobs", {"json": {"type": "nope"}}, 400, "INVALID_REQUEST", id="unknown-type"
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {"json": {"type": "demo.steps", "params": {"steps": -1}}},
        400,
        "INVALID_REQUEST",
        id="bad-params",
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {"json": {"type": "noop", "priority": "high"}},
        400,
        "INVALID_REQUEST",
        id="bad-priority",
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {"json": {"type": "noop", "delay_s": 1, "run_at": "2030-01-01T00:00:00Z"}},
        400,
        "INVALID_REQUEST",
        id="delay-and-run-at",
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {"json": {"type": "noop", "surprise": 1}},
        400,
        "INVALID_REQUEST",
        id="unknown-field",
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {"content": b'{"type": "noop"', "headers": JSON},
        400,
        "INVALID_REQUEST",
        id="malformed-json",
    ),
    pytest.param(
        "POST",
        "/v1/jobs",
        {
            "content": b'{"type": "noop", "params": {"x": "' + b"a" * 1_100_000 + b'"}}',
            "headers": JSON,
        },
        413,
        "PAYLOAD_TOO_LARGE",
        id="too-large",
    ),
    pytest.param(
        "POST", "/v1/jobs/batch", {"json": {"jobs": []}}, 400, "INVALID_REQUEST", id="empty-batch"
    ),
    pytest.param(
        "POST",
        "/v1/jobs/batch",
        {"json": {"jobs": [{"type": "noop"}, {"type": "nope"}]}},
        400,
        "INVALID_REQUEST",
        id="batch-one-bad",
    ),
    pytest.param(
        "POST",
        "/v1/jobs/batch",
        {"json": {"jobs": [{"type": "noop"}] * 1001}},
        400,
        "INVALID_REQUEST",
        id="batch-too-big",
    ),
    pytest.param("GET", f"/v1/jobs/{uuid7()}", {}, 404, "JOB_NOT_FOUND", id="unknown-id"),
    pytest.param("GET", "/v1/jobs/not-a-uuid", {}, 404, "JOB_NOT_FOUND", id="malformed-id"),
    pytest.param(
        "POST", f"/v1/jobs/{uuid7()}/cancel", {}, 404, "JOB_NOT_FOUND", id="cancel-unknown"
    ),
    pytest.param("POST", f"/v1/jobs/{uuid7()}/retry", {}, 404, "JOB_NOT_FOUND", id="retry-unknown"),
    pytest.param("GET", f"/v1/jobs/{uuid7()}/events", {}, 404, "JOB_NOT_FOUND", id="watch-unknown"),
    pytest.param(
        "GET",
        f"/v1/jobs/{uuid7()}/events?after=x",
        {},
        400,
        "INVALID_REQUEST",
        id="watch-bad-after",
    ),
    pytest.param(
        "GET",
        "/v1/jobs",
        {"params": {"status": "sleeping"}},
        400,
        "INVALID_REQUEST",
        id="bad-status-filter",
    ),
    pytest.param(
        "GET", "/v1/jobs", {"params": {"limit": 0}}, 400, "INVALID_REQUEST", id="bad-limit"
    ),
    pytest.param(
        "GET", "/v1/jobs", {"params": {"cursor": "xyz"}}, 400, "INVALID_REQUEST", id="bad-cursor"
    ),
    pytest.param(
        "POST",
        "/v1/queues/clean",
        {"json": {"grace_s": -1}},
        400,
        "INVALID_REQUEST",
        id="clean-negative-grace",
    ),
    pytest.param(
        "POST",
        "/v1/queues/clean",
        {"json": {"grace_s": 1, "status": "running"}},
        400,
        "INVALID_REQUEST",
        id="clean-active-status",
    ),
    pytest.param("GET", "/v1/nothing-here", {}, 404, "NOT_FOUND", id="unknown-route"),
    pytest.param("DELETE", "/v1/jobs", {}, 405, "METHOD_NOT_ALLOWED", id="wrong-method"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD_INPUTS)
async def test_bad_input_gets_its_error_and_changes_nothing(
    server: RunningServer, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    async with server.client() as c:
        await c.post("/v1/jobs", json={"type": "noop", "delay_s": 3600})
        before = await snapshot(c)
        body = assert_envelope(await c.request(method, path, **kwargs), status, code)
        assert await snapshot(c) == before
    if path == "/v1/jobs" and kwargs.get("json", {}).get("type") == "nope":
        assert body["details"]["known_types"] == sorted([*BUILT_IN, *SEED_004_ROUTES])
    if "bad-params" in str(kwargs) or kwargs.get("json", {}).get("params") == {"steps": -1}:
        assert body["details"]["fields"][0]["field"] == "params.steps"


async def test_forbidden_transitions_answer_409_and_change_nothing(server: RunningServer) -> None:
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop"})).json()
        done = await wait_status(c, job["id"], "completed")
        body = assert_envelope(
            await c.post(f"/v1/jobs/{job['id']}/cancel"), 409, "INVALID_TRANSITION"
        )
        assert body["details"]["status"] == "completed"
        assert_envelope(await c.post(f"/v1/jobs/{job['id']}/retry"), 409, "INVALID_TRANSITION")
        assert (await c.get(f"/v1/jobs/{job['id']}")).json() == done


async def test_a_store_that_is_down_answers_503(start_server: ServerFactory, db_url: str) -> None:
    unreachable = (
        "postgresql://postgres@127.0.0.1:1/nowhere"
        if db_url.startswith("postgresql")
        else "sqlite:////nonexistent-genq-dir/genq.db"
    )
    server = await start_server(db_url=unreachable, run_workers=False, bus="memory")
    async with server.client() as c:
        assert (await c.get("/healthz")).status_code == 200
        assert_envelope(await c.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
        r = await c.post("/v1/jobs", json={"type": "noop"})
        assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
        assert r.headers["Retry-After"] == "1"
        assert_envelope(await c.get(f"/v1/jobs/{uuid7()}"), 503, "SERVICE_UNAVAILABLE")
