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
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"FastAPI {fastapi.__version__}, uvicorn {uvicorn.__version__}, SQLAlchemy {sqlalchemy.__version__}"
    )


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
        lines += [
            "| genq, one worker process | SQLite | PostgreSQL |",
            "|---|---|---|",
            f"| enqueue, one request at a time (jobs/s) | {q['sqlite']['enqueue_single']:,.0f} | {q['postgres']['enqueue_single']:,.0f} |",
            f"| enqueue, batch endpoint (jobs/s) | {q['sqlite']['enqueue_batch']:,.0f} | {q['postgres']['enqueue_batch']:,.0f} |",
            f"| drain 10,000 noop jobs (jobs/s) | {q['sqlite']['drain']:,.0f} | {q['postgres']['drain']:,.0f} |",
            f"| enqueue→start p50 / p99 at 50 jobs/s (ms) | {q['sqlite']['latency_p50_ms']:.2f} / {q['sqlite']['latency_p99_ms']:.2f} | {q['postgres']['latency_p50_ms']:.2f} / {q['postgres']['latency_p99_ms']:.2f} |",
            "",
        ]

    if args.only in (None, "sse"):
        print("SSE benchmarks ...", flush=True)
        g = sse.bench_genq(sizes, rounds)
        s = sse.bench_sse_starlette(sizes, rounds)
        results["sse"] = {"genq": g, "sse_starlette": s}
        lines += [
            "| SSE, one broadcast to N watchers of one job | genq | sse-starlette floor | genq ÷ floor |",
            "|---|---|---|---|",
        ]
        for n in sizes:
            for key, label in (("p50_ms", "delivery p50 (ms)"), ("p99_ms", "delivery p99 (ms)"), ("connect_s", "connect all (s)"), ("kb_per_watcher", "memory per watcher (KB)")):
                ratio = g[n][key] / s[n][key] if s[n][key] else float("nan")
                lines.append(f"| N={n:,}: {label} | {g[n][key]} | {s[n][key]} | {ratio:.2f} |")
            lines.append(f"| N={n:,}: received / errors | {g[n]['received']} / {g[n]['errors']} | {s[n]['received']} / {s[n]['errors']} | |")
        lines.append("")

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "latest.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
