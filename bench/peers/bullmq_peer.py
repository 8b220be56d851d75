"""BullMQ (Node) on Redis; one worker process, concurrency 50.

Its client is Node too, so each call runs ``node bench.js …`` and the script times itself
(Node's start-up is not counted). ``make bench`` installs it from the npm registry with
``npm ci``; without Node the peer is left out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.peers.base import Peer

HERE = Path(__file__).resolve().parent / "bullmq"


def available() -> bool:
    return shutil.which("node") is not None and (HERE / "node_modules" / "bullmq").exists()


def _node(*args: str) -> str:
    out = subprocess.run(
        ["node", "bench.js", *args], cwd=HERE, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


class BullMQPeer(Peer):
    name = "BullMQ (Node)"
    backend = "Redis"
    settings = "concurrency 50"

    def reset(self) -> None:
        _node("reset")

    def worker_cmd(self) -> list[str]:
        return ["node", str(HERE / "bench.js"), "worker"]

    def enqueue_single(self, n: int) -> float:
        return float(_node("enqueue-single", str(n)))

    def enqueue_bulk(self, n: int) -> float:
        return float(_node("enqueue-bulk", str(n)))

    def timed_run(self, count: int, rate: float) -> list[float]:
        seen: list[float] = json.loads(_node("timed", str(count), str(rate)))
        return seen
