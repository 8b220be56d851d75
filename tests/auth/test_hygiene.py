"""CORS from settings, and credentials kept out of logs and answers."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from tests.auth.conftest import AUTH_SETTINGS, SECRET, bearer, token
from tests.conftest import RunningServer, ServerFactory, make_settings


async def test_cors_allows_listed_origins_with_credentials(start_server: ServerFactory) -> None:
    server = await start_server(
        run_workers=False, cors_origins=["https://app.example"], **AUTH_SETTINGS
    )
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
    }
    async with server.client() as c:
        ok = await c.options("/v1/jobs", headers={"Origin": "https://app.example", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert ok.headers["access-control-allow-credentials"] == "true"
        other = await c.options("/v1/jobs", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        r = await c.get("/v1/me", headers={"Origin": "https://app.example", **bearer(token())})
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert "X-RateLimit-Remaining" in r.headers["access-control-expose-headers"]


def test_a_wildcard_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot be used with credentials"):
        make_settings("sqlite:///x.db", cors_origins=["*"])
    assert make_settings("sqlite:///x.db", cors_origins=["*"], cors_allow_credentials=False)


async def test_tokens_and_keys_never_reach_the_logs(
    auth_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    key, _ = await auth_server.node.keys.create("k", "user", "alice")
    jwt_value = token("alice")
    async with auth_server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop"}, headers=bearer(jwt_value))).json()
        await c.post(f"/v1/jobs/{job['id']}/cancel", headers={"X-API-Key": key})
        issued = await c.post(
            "/v1/auth/stream-token", json={"job_id": job["id"]}, headers=bearer(jwt_value)
        )
        stream = issued.json()["token"]
        await c.get(f"/v1/jobs/{job['id']}/events", params={"token": stream})
        await c.get("/v1/jobs", headers=bearer(jwt_value + "x"))  # refused: still not logged
    # The server's own loggers (the test's HTTP client logs its URLs, tokens and all).
    server_side = [r for r in caplog.records if r.name.startswith(("genq", "uvicorn"))]
    logged = "\n".join(r.getMessage() for r in server_side)
    assert "/v1/jobs" in logged  # the access log was captured...
    for secret in (key, jwt_value, stream, SECRET):
        assert secret not in logged  # ...without a credential in it
