"""Every endpoint against every kind of caller: nobody sees, watches, cancels or spends
what is not theirs, and bad credentials always get 401 in the standard envelope."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.auth.conftest import bearer, token
from tests.conftest import RunningServer

# Callers: the headers each one sends.
CALLERS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "none": lambda keys: {},
    "malformed": lambda keys: bearer("not.a.jwt"),
    "expired": lambda keys: bearer(token("alice", exp=int(time.time()) - 3600)),
    "other_user": lambda keys: bearer(token("bob")),
    "owner": lambda keys: bearer(token("alice")),
    "admin": lambda keys: bearer(token("root", role="admin")),
    "api_key": lambda keys: {"X-API-Key": keys["alice"]},
    "revoked_key": lambda keys: {"X-API-Key": keys["revoked"]},
}
UNAUTHENTICATED = {"none", "malformed", "expired", "revoked_key"}


def expected(endpoint: str, caller: str) -> int:
    """The status each caller must get from each endpoint (alice owns the job)."""
    if caller in UNAUTHENTICATED:
        return 401
    ok = {"create": 201, "batch": 201, "stream_token": 201, "grant": 201, "create_key": 201}
    success = ok.get(endpoint, 200)
    if endpoint in ("clean", "grant", "list_keys", "create_key", "revoke_key"):
        return success if caller == "admin" else 403
    if endpoint in ("get", "cancel", "retry", "watch", "stream_token") and caller == "other_user":
        return 404  # no hint that alice's job exists
    return success


ENDPOINTS = [
    "create", "batch", "list", "get", "cancel", "retry", "watch", "watch_all", "queues",
    "clean", "job_types", "me", "stream_token", "balance", "usage", "grant", "list_keys",
    "create_key", "revoke_key",
]  # fmt: skip


async def _call(
    c: httpx.AsyncClient, endpoint: str, job_id: str, key_id: str, headers: dict[str, str]
) -> httpx.Response:
    jobs = f"/v1/jobs/{job_id}"
    calls: dict[str, tuple[str, str, Any]] = {
        "create": ("POST", "/v1/jobs", {"type": "noop"}),
        "batch": ("POST", "/v1/jobs/batch", {"jobs": [{"type": "noop"}]}),
        "list": ("GET", "/v1/jobs", None),
        "get": ("GET", jobs, None),
        "cancel": ("POST", f"{jobs}/cancel", None),
        "retry": ("POST", f"{jobs}/retry", None),
        "watch": ("GET", f"{jobs}/events", None),
        "watch_all": ("GET", "/v1/events", None),
        "queues": ("GET", "/v1/queues", None),
        "clean": ("POST", "/v1/queues/clean", {"grace_s": 3600}),
        "job_types": ("GET", "/v1/job-types", None),
        "me": ("GET", "/v1/me", None),
        "stream_token": ("POST", "/v1/auth/stream-token", {"job_id": job_id}),
        "balance": ("GET", "/v1/billing/balance", None),
        "usage": ("GET", "/v1/billing/usage", None),
        "grant": ("POST", "/v1/billing/grants", {"user_id": "alice", "amount": 5}),
        "list_keys": ("GET", "/v1/keys", None),
        "create_key": ("POST", "/v1/keys", {"name": "matrix"}),
        "revoke_key": ("DELETE", f"/v1/keys/{key_id}", None),
    }
    method, path, body = calls[endpoint]
    if endpoint in ("watch", "watch_all"):
        async with c.stream(method, path, headers=headers) as r:
            if r.status_code == 200:
                # The stream opened: its first line proves it is an event stream.
                assert r.headers["content-type"].startswith("text/event-stream")
            else:
                await r.aread()
            return r
    return await c.request(method, path, json=body, headers=headers)


@pytest.fixture
async def world(auth_server: RunningServer) -> dict[str, Any]:
    """Alice's cancelled job (so cancel gives 409 and retry works), and API keys."""
    keys = auth_server.node.keys
    alice_key, _ = await keys.create("alice's", "user", "alice")
    revoked_key, revoked = await keys.create("old", "user", "alice")
    await keys.revoke(revoked.id)
    return {"keys": {"alice": alice_key, "revoked": revoked_key}}


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_every_endpoint_answers_each_caller_as_it_should(
    auth_server: RunningServer, world: dict[str, Any], caller: str
) -> None:
    headers = CALLERS[caller](world["keys"])
    alice = bearer(token("alice"))
    admin = bearer(token("root", role="admin"))
    async with auth_server.client() as c:
        outcomes = {}
        for endpoint in ENDPOINTS:
            # A fresh job of alice's for each call: cancelled, so retry and cancel have
            # something to act on (cancel answers 409 for a cancelled job, 200 for a retried).
            job = (await c.post("/v1/jobs", json={"type": "noop"}, headers=alice)).json()
            await c.post(f"/v1/jobs/{job['id']}/cancel", headers=alice)
            if endpoint in ("cancel", "watch"):
                await c.post(f"/v1/jobs/{job['id']}/retry", headers=alice)
            if endpoint == "watch":
                await c.post(f"/v1/jobs/{job['id']}/cancel", headers=alice)  # stream ends
            key = (await c.post("/v1/keys", json={"name": "k"}, headers=admin)).json()
            r = await _call(c, endpoint, job["id"], key["id"], headers)
            outcomes[endpoint] = r.status_code
            if r.status_code >= 400:
                body = r.json()
                assert set(body) >= {"error", "message", "code", "timestamp"}, endpoint
                code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "JOB_NOT_FOUND"}
                assert body["code"] == code[r.status_code], (endpoint, body)
            if r.status_code == 401:
                assert r.headers["www-authenticate"] == "Bearer"
        assert outcomes == {e: expected(e, caller) for e in ENDPOINTS}


async def test_users_see_only_their_own_jobs_and_admins_all(auth_server: RunningServer) -> None:
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    service = bearer(token("backend", role="service_role"))
    async with auth_server.client() as c:
        a = (await c.post("/v1/jobs", json={"type": "noop"}, headers=alice)).json()
        b = (await c.post("/v1/jobs", json={"type": "noop"}, headers=bob)).json()
        assert (a["owner"], b["owner"]) == ("alice", "bob")
        listed = (await c.get("/v1/jobs", headers=alice)).json()["jobs"]
        assert [j["id"] for j in listed] == [a["id"]]
        everyone = (await c.get("/v1/jobs", headers=service)).json()["jobs"]
        assert {j["id"] for j in everyone} == {a["id"], b["id"]}
        queues = (await c.get("/v1/queues", headers=alice)).json()["queues"]
        assert sum(q["total"] for q in queues) == 1
        # A service acting for a user is that user: it submits as them and sees as them.
        acting = {**service, "X-On-Behalf-Of": "carol"}
        made = (await c.post("/v1/jobs", json={"type": "noop"}, headers=acting)).json()
        assert made["owner"] == "carol"
        assert (await c.get(f"/v1/jobs/{a['id']}", headers=acting)).status_code == 404
        # Only services may act for others.
        r = await c.post(
            "/v1/jobs", json={"type": "noop"}, headers={**alice, "X-On-Behalf-Of": "carol"}
        )
        assert r.status_code == 403
        before = (await c.get("/v1/jobs", headers=service)).json()["jobs"]
        assert len(before) == 3  # the refused submission created nothing
