"""SSE fan-out: one event broadcast to N watchers of one job, genq against sse-starlette.

Each round opens N connections from a separate load-generator process, waits until all
have their opening, triggers one event, and times its arrival at every watcher. Memory
per watcher is the server's RSS growth over N connections.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, free_port, genq, median, process, raise_nofile, rss_kb, wait_http


def _load(
    port: int,
    stream: str,
    trigger: str,
    n: int,
    pid: int,
    marker: str = "event: job_cancelled",
    body: str = "",
) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "bench.sse_load",
        "127.0.0.1",
        str(port),
        stream,
        trigger,
        str(n),
        marker,
        *([body] if body else []),
    ]
    before = rss_kb(pid)
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, cwd=ROOT, preexec_fn=raise_nofile, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "OPENED":
        proc.kill()
        raise RuntimeError(f"load generator failed: {line}")
    time.sleep(0.5)
    during = rss_kb(pid)
    result: dict[str, Any] = json.loads(proc.stdout.readline())
    proc.wait(60)
    result["kb_per_watcher"] = round((during - before) / n, 1)
    return result


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "connect_s",
        "first_ms",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "kb_per_watcher",
        "events_per_s",
        "frames",
    )
    out = {k: round(median([r[k] for r in runs]), 2) for k in keys}
    out["received"] = min(r["received"] for r in runs)
    out["errors"] = max(r["errors"] for r in runs)
    out["n"] = runs[0]["n"]
    return out


# Each round gets a fresh server: memory a process has freed is reused without growing its
# RSS, so a second round in the same process would understate what a watcher costs.


def _genq_round(n: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/sse.db"
        serve = genq("serve", "--db", db, "--port", str(port))
        with process(serve, log=Path(tmp) / "serve.log") as proc:
            wait_http(port)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                client.get("/v1/jobs")  # warm the routes up before measuring memory
                job = client.post("/v1/jobs", json={"type": "noop", "delay_s": 3600}).json()
            path = f"/v1/jobs/{job['id']}"
            return _load(port, f"{path}/events", f"{path}/cancel", n, proc.pid)


def _floor_round(n: int) -> dict[str, Any]:
    port = free_port()
    with process([sys.executable, "-m", "bench.sse_baseline", str(port)]) as proc:
        wait_http(port)
        return _load(port, "/events", "/publish", n, proc.pid)


SUSTAINED_WATCHERS = 1000
SUSTAINED_STEPS = 40  # demo.steps at full speed: about 5 events per step
SUSTAINED_EVENTS = 200  # the floor's burst


def _genq_sustained_round(n: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        serve = genq("serve", "--db", f"sqlite:///{tmp}/sse.db", "--port", str(port))
        with process(serve, log=Path(tmp) / "serve.log") as proc:
            wait_http(port)
            body = json.dumps(
                {"type": "demo.steps", "params": {"steps": SUSTAINED_STEPS, "step_ms": 0}}
            )
            return _load(port, "/v1/events", "/v1/jobs", n, proc.pid, "event: job_completed", body)


def _floor_sustained_round(n: int) -> dict[str, Any]:
    port = free_port()
    with process([sys.executable, "-m", "bench.sse_baseline", str(port)]) as proc:
        wait_http(port)
        return _load(port, "/events", f"/publish?n={SUSTAINED_EVENTS}", n, proc.pid)


def bench_sustained(rounds: int) -> dict[str, dict[str, Any]]:
    """Events delivered per second to 1,000 watchers during a burst, genq and the floor."""
    n = SUSTAINED_WATCHERS
    return {
        "genq": _summarise([_genq_sustained_round(n) for _ in range(rounds)]),
        "sse_starlette": _summarise([_floor_sustained_round(n) for _ in range(rounds)]),
    }


def bench_genq(sizes: list[int], rounds: int) -> dict[int, dict[str, Any]]:
    """genq's figures for each number of watchers (medians of ``rounds``)."""
    return {n: _summarise([_genq_round(n) for _ in range(rounds)]) for n in sizes}


def bench_sse_starlette(sizes: list[int], rounds: int) -> dict[int, dict[str, Any]]:
    """The floor's figures for each number of watchers (medians of ``rounds``)."""
    return {n: _summarise([_floor_round(n) for _ in range(rounds)]) for n in sizes}
