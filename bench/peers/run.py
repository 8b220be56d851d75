"""Drive each peer through the same rounds as genq (bench/queue.py).

Per round: enqueue 2,000 noop jobs one call at a time; empty the queue; enqueue 10,000 the
fastest way the peer offers; start one worker process and time the drain (first finish
to last, as the probe saw them); then, with the worker still running, 150 timed jobs at
about 50 per second, each waited for through the peer's own result API.

python -m bench.peers.run [--rounds N] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, percentile, process
from bench.peers import probe
from bench.peers.base import Peer

PEERS = {
    "celery": "bench.peers.celery_peer:CeleryPeer",
    "rq": "bench.peers.rq_peer:RQPeer",
    "arq": "bench.peers.arq_peer:ArqPeer",
    "saq": "bench.peers.saq_peer:SaqPeer",
    "procrastinate": "bench.peers.procrastinate_peer:ProcrastinatePeer",
}
SINGLE, TOTAL, TIMED, RATE = 2_000, 10_000, 150, 50.0


def load(name: str) -> Peer:
    module, cls = PEERS[name].split(":")
    peer: Peer = getattr(importlib.import_module(module), cls)()
    return peer


def one_round(peer: Peer, tmp: Path, total: int, single: int, timed: int) -> dict[str, float]:
    peer.reset()
    probe.reset()
    t0 = time.perf_counter()
    peer.enqueue_single(single)
    single_rate = single / (time.perf_counter() - t0)
    peer.reset()
    t0 = time.perf_counter()
    peer.enqueue_bulk(total)
    bulk_rate = total / (time.perf_counter() - t0)
    with process(peer.worker_cmd(), log=tmp / f"{peer.name}.log") as worker:
        deadline = time.monotonic() + 300
        while probe.count() < total:
            if worker.poll() is not None:
                log = (tmp / f"{peer.name}.log").read_text()
                raise RuntimeError(f"{peer.name} worker exited: {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{peer.name} drained {probe.count()} of {total} in 5 minutes")
            time.sleep(0.1)
        drain = probe.drain_rate()
        seen: list[float] = []
        next_at = time.monotonic()
        for _ in range(timed):
            enqueued_at = time.time()
            peer.submit_and_wait(enqueued_at)
            seen.append((time.time() - enqueued_at) * 1000)
            next_at += 1 / RATE
            time.sleep(max(0.0, next_at - time.monotonic()))
        starts = probe.start_delays_ms()
    return {
        "enqueue_single": single_rate,
        "enqueue_batch": bulk_rate,
        "drain": drain,
        "start_p50_ms": percentile(starts, 50),
        "start_p99_ms": percentile(starts, 99),
        "result_p50_ms": percentile(seen, 50),
        "result_p99_ms": percentile(seen, 99),
    }


def bench_peer(name: str, rounds: int, quick: bool = False) -> dict[str, Any]:
    """A peer's figures: medians over ``rounds``."""
    peer = load(name)
    total, single, timed = (2_000, 500, 50) if quick else (TOTAL, SINGLE, TIMED)
    runs = []
    try:
        for r in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(one_round(peer, Path(tmp), total, single, timed))
            print(
                f"  {peer.name} round {r + 1}: "
                + ", ".join(f"{k}={v:.1f}" for k, v in runs[-1].items()),
                flush=True,
            )
    finally:
        peer.close()
    figures = {k: median([run[k] for run in runs]) for k in runs[0]}
    return {"name": peer.name, "backend": peer.backend, "settings": peer.settings, **figures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(PEERS))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = [bench_peer(n, args.rounds, args.quick) for n in (args.only or PEERS)]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
