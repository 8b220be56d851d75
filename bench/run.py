"""Run every benchmark and print the table that goes into docs/benchmarks.md.

python -m bench.run            # full: 3 rounds each, 1,000 and 5,000 SSE watchers
python -m bench.run --quick    # 1 round, 1,000 watchers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from bench import queue, sse
from bench.common import ROOT


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


def queue_table(q: dict[str, dict[str, float]]) -> list[str]:
    """The queue figures as a Markdown table."""
    lite, pg = q["sqlite"], q["postgres"]

    def both(key: str, fmt: str) -> tuple[str, str]:
        return format(lite[key], fmt), format(pg[key], fmt)

    return [
        row("genq, one worker process", "SQLite", "PostgreSQL"),
        row("---", "---", "---"),
        row("enqueue, one request at a time (jobs/s)", *both("enqueue_single", ",.0f")),
        row("enqueue, batch endpoint (jobs/s)", *both("enqueue_batch", ",.0f")),
        row("drain 10,000 noop jobs (jobs/s)", *both("drain", ",.0f")),
        row(
            "enqueue→start p50 / p99 at 50 jobs/s (ms)",
            f"{lite['latency_p50_ms']:.2f} / {lite['latency_p99_ms']:.2f}",
            f"{pg['latency_p50_ms']:.2f} / {pg['latency_p99_ms']:.2f}",
        ),
        "",
    ]


SSE_ROWS = (
    ("first_ms", "first delivery (ms)"),
    ("p50_ms", "delivery p50 (ms)"),
    ("p99_ms", "delivery p99 (ms)"),
    ("connect_s", "connect all (s)"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["queue", "sse"], default=None)
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    sizes = [1000] if args.quick else [1000, 5000]
    results: dict[str, object] = {"machine": machine(), "rounds": rounds}
    lines = [f"Machine: {results['machine']}. Figures are medians of {rounds} round(s).", ""]

    if args.only in (None, "queue"):
        print("queue benchmarks ...", flush=True)
        q = {b: queue.bench_backend(b, rounds) for b in ("sqlite", "postgres")}
        results["queue"] = q
        lines += queue_table(q)

    if args.only in (None, "sse"):
        print("SSE benchmarks ...", flush=True)
        g = sse.bench_genq(sizes, rounds)
        s = sse.bench_sse_starlette(sizes, rounds)
        results["sse"] = {"genq": g, "sse_starlette": s}
        lines += sse_table(g, s)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "latest.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
