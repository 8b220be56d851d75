"""Run every benchmark and print the table that goes into docs/benchmarks.md.

python -m bench.run                  # full: 3 rounds of everything (make bench)
python -m bench.run --quick          # 1 round, reduced sizes (make bench-quick)
python -m bench.run --only peers     # one part: queue, peers, sse, http, auth or remote
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import auth, http, queue, remote, sse
from bench.common import ROOT
from bench.peers.floor import bench_floor
from bench.peers.run import DRAIN_CAP_S, available_peers, bench_peer


def machine() -> str:
    import fastapi
    import sqlalchemy
    import uvicorn

    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; FastAPI {fastapi.__version__}, "
        f"uvicorn {uvicorn.__version__}, SQLAlchemy {sqlalchemy.__version__}"
    )


def row(*cells: object) -> str:
    """A Markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


QUEUE_COLUMNS = (
    ("enqueue_single", "enqueue one at a time (jobs/s)", ",.0f"),
    ("enqueue_batch", "enqueue in bulk (jobs/s)", ",.0f"),
    ("drain", "drain (jobs/s)", ",.0f"),
    ("latency_p50_ms", "enqueue→start p50 (ms)", ".2f"),
    ("latency_p99_ms", "enqueue→start p99 (ms)", ".2f"),
    ("result_p50_ms", "enqueue→result seen p50 (ms)", ".2f"),
    ("result_p99_ms", "enqueue→result seen p99 (ms)", ".2f"),
)
# Bigger is better for rates; smaller for latencies. A ratio over 1 is genq ahead.
_RATES = {"enqueue_single", "enqueue_batch", "drain"}


def _peer_row(p: dict[str, float]) -> dict[str, float]:
    """A peer's figures under genq's keys."""
    return {**p, "latency_p50_ms": p["start_p50_ms"], "latency_p99_ms": p["start_p99_ms"]}


def wait_table(q: dict[str, dict[str, float]], peers: list[dict[str, float]]) -> list[str]:
    """genq's two ways to see a result (submit + SSE, one Prefer: wait request) against
    the peers' result waits."""
    if not q:
        return []
    lines = [
        row("enqueue→result seen, noop job", "p50 (ms)", "p99 (ms)"),
        row("---", "---", "---"),
    ]
    for store, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        f = q.get(store)
        if not f or "wait_p50_ms" not in f:
            continue
        lines.append(
            row(f"genq {label}: submit, then SSE", f"{f['result_p50_ms']:.2f}",
                f"{f['result_p99_ms']:.2f}")
        )  # fmt: skip
        lines.append(
            row(f"genq {label}: one request, Prefer: wait", f"{f['wait_p50_ms']:.2f}",
                f"{f['wait_p99_ms']:.2f}")
        )  # fmt: skip
    for p in peers:
        lines.append(
            row(f"{p['name']} ({p['backend']})", f"{p['result_p50_ms']:.2f}",
                f"{p['result_p99_ms']:.2f}")
        )  # fmt: skip
    return [*lines, ""]


def queue_table(
    q: dict[str, dict[str, float]],
    peers: list[dict[str, float]],
    floor: dict[str, float] | None,
    total: int,
) -> list[str]:
    """genq and every peer, one row each, then genq's advantage over each peer."""
    systems = (
        [
            ("genq", "SQLite", "HTTP API, worker in the API process", q["sqlite"]),
            ("genq", "PostgreSQL", "HTTP API, 1 worker process", q["postgres"]),
        ]
        if q
        else []
    )
    systems += [(p["name"], p["backend"], p["settings"], _peer_row(p)) for p in peers]
    lines = [
        row(
            "queue, one worker process, noop jobs",
            "store",
            "set-up",
            *(c[1] for c in QUEUE_COLUMNS),
        ),
        row(*["---"] * (3 + len(QUEUE_COLUMNS))),
    ]
    capped = False
    for name, store, setup, figures in systems:
        cells = [format(figures.get(k, float("nan")), f) for k, _, f in QUEUE_COLUMNS]
        if figures.get("drained", total) < total:
            cells[2] += " †"
            capped = True
        lines.append(row(name, store, setup, *cells))
    if floor:
        lines.append(
            row(
                "floor: bare claim loop",
                "SQLite",
                "claim + complete, 1 / 100 per statement",
                "",
                "",
                f"{floor['sqlite_1']:,.0f} / {floor['sqlite_100']:,.0f}",
                "",
                "",
                "",
                "",
            )
        )
        lines.append(
            row(
                "floor: bare claim loop",
                "PostgreSQL",
                "SKIP LOCKED, 10 connections, 1 / 100",
                "",
                "",
                f"{floor['postgres_1']:,.0f} / {floor['postgres_100']:,.0f}",
                "",
                "",
                "",
                "",
            )
        )
    lines.append("")
    if capped:
        lines += [
            f"† slower than {total:,} in {DRAIN_CAP_S:.0f} s: timed over its first "
            f"{DRAIN_CAP_S:.0f} s of work, with the rest still queued.",
            "",
        ]
    if q and peers:
        lines += [
            "genq ÷ peer (genq on the peer's kind of store: PostgreSQL for Procrastinate, "
            "SQLite for the Redis peers; over 1 means genq is ahead, latencies inverted):",
            "",
            row("peer", *(c[1] for c in QUEUE_COLUMNS)),
            row(*["---"] * (1 + len(QUEUE_COLUMNS))),
        ]
        for p in peers:
            mine = q["postgres"] if p["backend"] == "PostgreSQL" else q["sqlite"]
            theirs = _peer_row(p)
            cells = []
            for k, _, _ in QUEUE_COLUMNS:
                a, b = mine.get(k, float("nan")), theirs.get(k, float("nan"))
                ratio = a / b if k in _RATES else b / a
                cells.append(f"{ratio:.2f}")
            lines.append(row(p["name"], *cells))
        lines.append("")
    return lines


def http_table(h: dict[str, dict[str, float]]) -> list[str]:
    """Requests/s and latency under wrk, per store."""
    lines = [
        row("HTTP, 32 connections (wrk)", "req/s", "p50 (ms)", "p99 (ms)"),
        row("---", "---", "---", "---"),
    ]
    for backend, f in h.items():
        for op, label in (("post", "POST /v1/jobs"), ("get", "GET /v1/jobs/{id}")):
            lines.append(
                row(
                    f"{label}, {backend}",
                    f"{f[op + '_rps']:,.0f}",
                    f"{f[op + '_p50_ms']:.1f}",
                    f"{f[op + '_p99_ms']:.1f}",
                )
            )
    return [*lines, ""]


SSE_ROWS = (
    ("first_ms", "first delivery (ms)"),
    ("p50_ms", "delivery p50 (ms)"),
    ("p99_ms", "delivery p99 (ms)"),
    ("connect_s", "connect all (s)"),
    ("max_ms", "delivery max (ms)"),
    ("kb_per_watcher", "memory per watcher (KB)"),
)


def sse_table(g: dict[int, dict[str, float]], s: dict[int, dict[str, float]]) -> list[str]:
    """The SSE figures, genq beside the sse-starlette floor, as a Markdown table."""
    lines = [
        row("SSE: one broadcast to N watchers of one job", "genq", "sse-starlette", "genq ÷ floor"),
        row("---", "---", "---", "---"),
    ]
    for n in g:
        for key, label in SSE_ROWS:
            ratio = g[n][key] / s[n][key] if s[n][key] else float("nan")
            lines.append(row(f"N={n:,}: {label}", g[n][key], s[n][key], f"{ratio:.2f}"))
        received = (f"{x[n]['received']} / {x[n]['errors']}" for x in (g, s))
        lines.append(row(f"N={n:,}: received / errors", *received, ""))
    return [*lines, ""]


def sustained_table(r: dict[str, dict[str, float]]) -> list[str]:
    g, f = r["genq"], r["sse_starlette"]
    ratio = g["events_per_s"] / f["events_per_s"]
    return [
        row("SSE: a burst of events to 1,000 watchers", "genq", "sse-starlette", "genq ÷ floor"),
        row("---", "---", "---", "---"),
        row("events delivered per second", f"{g['events_per_s']:,.0f}",
            f"{f['events_per_s']:,.0f}", f"{ratio:.2f}"),
        row("events per watcher", g["frames"] // 1000, f["frames"] // 1000, ""),
        "",
    ]  # fmt: skip


REMOTE_COLUMNS = (
    ("start_p50_ms", "enqueue→start p50 (ms)", ".2f"),
    ("start_p99_ms", "enqueue→start p99 (ms)", ".2f"),
    ("wait_p50_ms", "Prefer: wait p50 (ms)", ".2f"),
    ("wait_p99_ms", "Prefer: wait p99 (ms)", ".2f"),
    ("drain", "drain (jobs/s)", ",.0f"),
)


def remote_table(r: dict[str, dict[str, float]]) -> list[str]:
    """Remote workers beside local ones, with the remote worker's ratio on each store."""
    lines = [
        row("worker, noop jobs", *(c[1] for c in REMOTE_COLUMNS)),
        row(*["---"] * (1 + len(REMOTE_COLUMNS))),
    ]
    for name, f in r.items():
        lines.append(row(name, *(format(f[k], fmt) for k, _, fmt in REMOTE_COLUMNS)))
    lines.append("")
    pairs = (("remote worker, sqlite", "in-process, sqlite"),
             ("remote worker, postgres", "worker process, postgres"))  # fmt: skip
    for remote_key, local_key in pairs:
        if remote_key in r and local_key in r:
            a, b = r[remote_key], r[local_key]
            ratios = ", ".join(
                f"{label} {a[k] / b[k]:.2f}"
                for k, label in (("start_p50_ms", "start p50"), ("wait_p50_ms", "wait p50"),
                                 ("drain", "drain"))
            )  # fmt: skip
            lines.append(f"- {remote_key} ÷ {local_key}: {ratios}")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=["queue", "peers", "sse", "http", "auth", "remote"], default=None
    )
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    sizes = [1000] if args.quick else [1000, 5000, 10000]
    results: dict[str, object] = {"machine": machine(), "rounds": rounds}
    lines = [f"Machine: {results['machine']}. Figures are medians of {rounds} round(s).", ""]
    started = time.monotonic()

    q: dict[str, dict[str, float]] = {}
    peer_figures: list[dict[str, float]] = []
    floor_figures: dict[str, float] | None = None
    if args.only in (None, "queue"):
        print("queue benchmarks: genq ...", flush=True)
        total, single = (2_000, 500) if args.quick else (10_000, 2_000)
        q = {b: queue.bench_backend(b, rounds, total, single) for b in ("sqlite", "postgres")}
        results["queue"] = q
    if args.only in (None, "peers"):
        print("queue benchmarks: peers ...", flush=True)
        peer_figures = [bench_peer(name, rounds, args.quick) for name in available_peers()]
        floor_figures = bench_floor(2_000 if args.quick else 10_000)
        results["peers"] = peer_figures
        results["floor"] = floor_figures
    if q or peer_figures:
        lines += queue_table(q, peer_figures, floor_figures, 2_000 if args.quick else 10_000)
        lines += wait_table(q, peer_figures)

    if args.only in (None, "sse"):
        print("SSE benchmarks ...", flush=True)
        g = sse.bench_genq(sizes, rounds)
        s = sse.bench_sse_starlette(sizes, rounds)
        sustained = sse.bench_sustained(rounds)
        results["sse"] = {"genq": g, "sse_starlette": s, "sustained": sustained}
        lines += sse_table(g, s)
        lines += sustained_table(sustained)

    if args.only in (None, "http"):
        print("HTTP benchmarks ...", flush=True)
        h = http.bench_http(rounds, 4 if args.quick else 6)
        if h:
            results["http"] = h
            lines += http_table(h)

    if args.only in (None, "auth"):
        print("auth benchmarks ...", flush=True)
        a = auth.bench_auth(rounds, 4 if args.quick else 6, "redis://127.0.0.1:6379/12")
        if a:
            results["auth"] = a
            lines += auth.auth_table(a)
    if args.only in (None, "remote"):
        print("remote worker benchmarks ...", flush=True)
        r = remote.bench_remote(rounds, args.quick)
        results["remote"] = r
        lines += remote_table(r)

    lines.append(f"Whole run: {time.monotonic() - started:.0f} s.")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "latest.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
