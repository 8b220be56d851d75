"""HTTP: ``POST /v1/jobs`` and ``GET /v1/jobs/{id}`` requests/s and latency at fixed concurrency.

The load comes from wrk (Debian's package) in another process, one thread and
``CONNECTIONS`` keep-alive connections, against ``genq serve --no-workers`` (jobs are
only stored). Latency percentiles are wrk's own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, fresh_pg_database, genq, median, process, wait_http

CONNECTIONS = 32
POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"type":"noop","params":{"n":1}}'
wrk.headers["Content-Type"] = "application/json"
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _wrk(url: str, seconds: int, script: Path | None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99}


def _round(backend: str, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url = (
            f"sqlite:///{tmp}/http.db"
            if backend == "sqlite"
            else fresh_pg_database("genq_bench_http")
        )
        port = free_port()
        script = tmp / "post.lua"
        script.write_text(POST_SCRIPT)
        serve = genq("serve", "--db", url, "--port", str(port), "--no-workers")
        with process(serve, log=tmp / "serve.log"):
            wait_http(port, "/readyz")
            base = f"http://127.0.0.1:{port}"
            job = httpx.post(f"{base}/v1/jobs", json={"type": "noop"}).json()
            post = _wrk(f"{base}/v1/jobs", seconds, script)
            get = _wrk(f"{base}/v1/jobs/{job['id']}", seconds, None)
    return {f"post_{k}": v for k, v in post.items()} | {f"get_{k}": v for k, v in get.items()}


def bench_http(rounds: int, seconds: int = 8) -> dict[str, Any]:
    """Per backend: medians of ``rounds`` runs; empty when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("  wrk is not installed (apt-get install wrk): HTTP benchmark skipped")
        return {}
    out: dict[str, Any] = {}
    for backend in ("sqlite", "postgres"):
        runs = [_round(backend, seconds) for _ in range(rounds)]
        out[backend] = {k: median([r[k] for r in runs]) for k in runs[0]}
        print(f"  http {backend}: {out[backend]}", flush=True)
    return out


if __name__ == "__main__":
    print(bench_http(1, 5))
