"""Auth across real processes: shared rate-limit counters, and refusing to serve an open
server on a public address."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.auth.conftest import SECRET, bearer, token
from tests.conftest import free_port
from tests.e2e.conftest import Spawn

LIMIT = 10


def _hammer(urls: list[str], requests: int) -> list[int]:
    headers = bearer(token("alice"))
    codes = []
    for i in range(requests):
        r = httpx.get(f"{urls[i % len(urls)]}/v1/jobs", headers=headers, timeout=10)
        codes.append(r.status_code)
    return codes


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_processes_share_rate_limit_counters_through_redis(
    spawn_api: Spawn, redis_url: str
) -> None:
    env = {
        "jwt_secret": SECRET,
        "jwt_audience": "authenticated",
        "rate_limits": json.dumps({"user": {"api": f"{LIMIT}/minute"}}),
    }
    shared = [spawn_api(f"api-{i}", rate_limit_storage=redis_url, **env) for i in range(2)]
    codes = _hammer(shared, 2 * LIMIT)
    assert codes.count(200) == LIMIT
    assert codes.count(429) == LIMIT
    # The control: with counters in each process's memory, each one allows LIMIT.
    alone = [spawn_api(f"mem-{i}", rate_limit_storage="memory://", **env) for i in range(2)]
    assert _hammer(alone, 2 * LIMIT).count(200) == 2 * LIMIT


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_refuses_a_public_address_without_auth(db_url: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "genq.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GENQ_DB_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert out.returncode == 2
    said = " ".join((out.stdout + out.stderr).split())
    assert "refusing to serve on 0.0.0.0 without authentication" in said
    assert "GENQ_JWT_SECRET" in said
    assert "--insecure" in said


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_on_a_public_address_with_insecure_or_auth(spawn_genq: Spawn) -> None:
    for name, args, env in (
        ("insecure", ["--insecure"], {}),
        ("with-auth", [], {"jwt_secret": SECRET}),
    ):
        port = free_port()
        proc = spawn_genq(name, "serve", "--host", "0.0.0.0", "--port", str(port), *args, **env)
        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/me", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, name
                time.sleep(0.05)
        assert r.status_code == (200 if name == "insecure" else 401)
        proc.kill()


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genq.cli", *args, "--db", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_keys_and_credits_from_the_command_line(db_url: str, spawn_api: Spawn) -> None:
    made = _cli(db_url, "keys", "create", "--name", "ci", "--role", "user", "--user", "alice")
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    key = record["key"]
    assert key.startswith("gq_")
    assert "cannot be shown again" in made.stderr
    listed = _cli(db_url, "keys", "list")
    assert record["prefix"] in listed.stdout
    assert key not in listed.stdout
    granted = _cli(db_url, "credits", "grant", "alice", "25")
    assert json.loads(granted.stdout)["balance_after"] == 25
    assert _cli(db_url, "credits", "grant", "alice", "-3").returncode != 0
    assert _cli(db_url, "keys", "create", "--name", "x", "--role", "root").returncode == 2

    url = spawn_api("api", auth_enabled="true")
    me = httpx.get(f"{url}/v1/me", headers={"X-API-Key": key}, timeout=10)
    assert me.json()["user_id"] == "alice"
    balance = httpx.get(f"{url}/v1/billing/balance", headers={"X-API-Key": key}, timeout=10)
    assert balance.json()["balance"] == 25
    assert _cli(db_url, "keys", "revoke", record["id"]).returncode == 0
    # The server cached the key for up to GENQ_API_KEY_CACHE_S (5 s); it then refuses it.
    for _ in range(120):
        r = httpx.get(f"{url}/v1/me", headers={"X-API-Key": key}, timeout=10)
        if r.status_code == 401:
            break
        time.sleep(0.1)
    assert r.status_code == 401
