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
from collections.abc import Callable
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
    "bullmq": "bench.peers.bullmq_peer:BullMQPeer",
}


def available_peers() -> list[str]:
    """Every peer, but BullMQ only where Node and its npm install are there."""
    from bench.peers.bullmq_peer import available

    return [name for name in PEERS if name != "bullmq" or available()]


SINGLE, TOTAL, TIMED, RATE = 2_000, 10_000, 150, 50.0
DRAIN_CAP_S = 20.0


def load(name: str) -> Peer:
    module, cls = PEERS[name].split(":")
    peer: Peer = getattr(importlib.import_module(module), cls)()
    return peer


def _timed(enqueue: Callable[[int], float | None], n: int) -> float:
    """Seconds ``enqueue(n)`` took: its own figure when it times itself, else the wall clock."""
    t0 = time.perf_counter()
    own = enqueue(n)
    return own if own is not None else time.perf_counter() - t0


def one_round(peer: Peer, tmp: Path, total: int, single: int, timed: int) -> dict[str, float]:
    peer.reset()
    probe.reset()
    single_rate = single / _timed(peer.enqueue_single, single)
    peer.reset()
    bulk_rate = total / _timed(peer.enqueue_bulk, total)
    with process(peer.worker_cmd(), log=tmp / f"{peer.name}.log") as worker:
        deadline = time.monotonic() + 300
        first_seen: float | None = None
        while probe.count() < total:
            # A slow peer is timed over its first DRAIN_CAP_S of work (with the rest of
            # the 10,000 still queued), so the whole run fits in its time budget.
            if first_seen is None and probe.count() > 0:
                first_seen = time.monotonic()
            if first_seen is not None and time.monotonic() - first_seen > DRAIN_CAP_S:
                break
            if worker.poll() is not None:
                log = (tmp / f"{peer.name}.log").read_text()
                raise RuntimeError(f"{peer.name} worker exited: {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{peer.name} drained {probe.count()} of {total} in 5 minutes")
            time.sleep(0.1)
        drain, drained = probe.drain_rate(), probe.count()
    # Latency with a fresh worker and an empty queue (a capped drain leaves jobs behind).
    peer.reset()
    with process(peer.worker_cmd(), log=tmp / f"{peer.name}-latency.log"):
        peer.warm_up()
        seen = peer.timed_run(timed, RATE)
        starts = probe.start_delays_ms()
    return {
        "enqueue_single": single_rate,
        "enqueue_batch": bulk_rate,
        "drain": drain,
        "drained": drained,
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
    out = [bench_peer(n, args.rounds, args.quick) for n in (args.only or available_peers())]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
