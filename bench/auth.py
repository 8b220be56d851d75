"""What authentication, rate limits, caps and credits cost per request.

``GET /v1/jobs/{id}`` and ``POST /v1/jobs`` under wrk (as in bench/http.py), against
``genq serve --no-workers`` on SQLite with auth off, with an HS256 JWT, with an API key,
and with a JWT plus rate limits (in memory, then in Redis), the active-jobs cap and
credits. The floor is a bare FastAPI app on the same server stack whose one route checks
the same JWT with PyJWT and answers a small JSON document: what the seeds built by hand,
with no store behind it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench.common import free_port, genq, median, process, wait_http
from bench.http import _wrk

SECRET = "bench-secret-that-is-long-enough-for-hs256!"
BIG = "1000000000/hour"
FLOOR_APP = """
import jwt
from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()
SECRET = {secret!r}

async def user(authorization: str = Header()) -> str:
    try:
        token = authorization[7:]
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="authenticated")
    except jwt.PyJWTError:
        raise HTTPException(401)
    return claims["sub"]

@app.get("/v1/jobs/{{job_id}}")
async def job(job_id: str, sub: str = Depends(user)) -> dict:
    return {{"id": job_id, "owner": sub, "status": "queued"}}
"""


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "alice", "role": "authenticated", "aud": "authenticated", "iat": now}
    return jwt.encode({**claims, "exp": now + 3600}, SECRET, algorithm="HS256")


def _script(tmp: Path, name: str, headers: dict[str, str], post: bool) -> Path:
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if post:
        lines += [
            'wrk.method = "POST"',
            """wrk.body = '{"type":"noop"}'""",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    path = tmp / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def _modes(redis_url: str) -> dict[str, dict[str, str]]:
    jwt_only = {"GENQ_JWT_SECRET": SECRET, "GENQ_JWT_AUDIENCE": "authenticated"}
    off = {"GENQ_RATE_LIMITS": "{}", "GENQ_MAX_ACTIVE_JOBS": "{}"}
    everything = {
        **jwt_only,
        "GENQ_RATE_LIMITS": json.dumps({"user": {"api": BIG, "jobs": BIG}}),
        "GENQ_MAX_ACTIVE_JOBS": json.dumps({"user": 10_000_000}),
        "GENQ_CREDIT_COSTS": json.dumps({"*": 1}),
    }
    return {
        "no auth": {},
        "JWT (HS256)": {**jwt_only, **off},
        "API key": {"GENQ_AUTH_ENABLED": "true", **off},
        "JWT + limits (memory) + cap + credits": everything,
        "JWT + limits (Redis) + cap + credits": {
            **everything,
            "GENQ_RATE_LIMIT_STORAGE": redis_url,
        },
    }


def _round(mode: str, env: dict[str, str], seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        db = f"sqlite:///{tmp}/auth.db"
        env = {**env, "GENQ_DB_URL": db}
        headers: dict[str, str] = {}
        if mode == "API key":
            made = subprocess.run(
                genq("keys", "create", "--name", "bench", "--user", "alice", "--db", db),
                capture_output=True,
                text=True,
                check=True,
            )
            headers = {"X-API-Key": json.loads(made.stdout)["key"]}
        elif "JWT" in mode:
            headers = {"Authorization": f"Bearer {_token()}"}
        if "credits" in env.get("GENQ_CREDIT_COSTS", "") or "GENQ_CREDIT_COSTS" in env:
            subprocess.run(
                genq("credits", "grant", "alice", "1000000000", "--db", db),
                capture_output=True,
                check=True,
            )
        port = free_port()
        with process(
            genq("serve", "--port", str(port), "--no-workers"), env=env, log=tmp / "serve.log"
        ):
            wait_http(port, "/readyz")
            base = f"http://127.0.0.1:{port}"
            job = httpx.post(f"{base}/v1/jobs", json={"type": "noop"}, headers=headers).json()
            get = _wrk(f"{base}/v1/jobs/{job['id']}", seconds, _script(tmp, "get", headers, False))
            post = _wrk(f"{base}/v1/jobs", seconds, _script(tmp, "post", headers, True))
    return {f"get_{k}": v for k, v in get.items()} | {f"post_{k}": v for k, v in post.items()}


def _floor_round(seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "auth_floor.py").write_text(FLOOR_APP.format(secret=SECRET))
        port = free_port()
        args = [
            sys.executable, "-m", "uvicorn", "auth_floor:app", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "warning", "--app-dir", str(tmp),
        ]  # fmt: skip
        with process(args, log=tmp / "floor.log"):
            wait_http(port, "/docs")
            headers = {"Authorization": f"Bearer {_token()}"}
            script = _script(tmp, "get", headers, False)
            get = _wrk(f"http://127.0.0.1:{port}/v1/jobs/x", seconds, script)
    return {f"get_{k}": v for k, v in get.items()}


def bench_auth(rounds: int, seconds: int, redis_url: str) -> dict[str, dict[str, float]]:
    """Per mode: medians of ``rounds`` runs; empty when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("  wrk is not installed (apt-get install wrk): auth benchmark skipped")
        return {}
    out: dict[str, dict[str, float]] = {}
    for mode, env in _modes(redis_url).items():
        runs = [_round(mode, env, seconds) for _ in range(rounds)]
        out[mode] = {k: median([r[k] for r in runs]) for k in runs[0]}
        print(f"  auth {mode}: {out[mode]}", flush=True)
    floor = [_floor_round(seconds) for _ in range(rounds)]
    out["floor: FastAPI + PyJWT, no store"] = {k: median([r[k] for r in floor]) for k in floor[0]}
    return out


def auth_table(a: dict[str, dict[str, Any]]) -> list[str]:
    """GET and POST figures per mode, with the cost against no auth and the floor."""
    from bench.run import row

    base = a["no auth"]
    floor = a["floor: FastAPI + PyJWT, no store"]
    lines = [
        row("Auth on SQLite, 32 connections (wrk)", "GET req/s", "GET p99 (ms)",
            "GET ÷ no auth", "GET ÷ floor", "POST req/s", "POST ÷ no auth"),
        row("---", "---", "---", "---", "---", "---", "---"),
    ]  # fmt: skip
    for mode, f in a.items():
        post = f.get("post_rps")
        lines.append(
            row(
                mode,
                f"{f['get_rps']:,.0f}",
                f"{f['get_p99_ms']:.1f}",
                f"{f['get_rps'] / base['get_rps']:.2f}",
                f"{f['get_rps'] / floor['get_rps']:.2f}",
                f"{post:,.0f}" if post else "",
                f"{post / base['post_rps']:.2f}" if post else "",
            )
        )
    return [*lines, ""]


if __name__ == "__main__":
    results = bench_auth(1, 4, "redis://127.0.0.1:6379/12")
    print("\n".join(auth_table(results)))
