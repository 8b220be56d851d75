"""SSE load generator (its own process): N watchers, one broadcast, delivery latencies.

Usage: python -m bench.sse_load HOST PORT STREAM_PATH TRIGGER_PATH N MARKER [BODY]
Opens N connections to STREAM_PATH, waits until every one has its opening, then POSTs
TRIGGER_PATH (with the JSON BODY, if given) and times how long the frame containing MARKER
takes to reach each watcher, counting the event frames each one received until then.
Prints one JSON line: connect_s, latencies_ms (p50, p99, max), received, errors, and the
sustained rate: event frames delivered per second, from the trigger to the last arrival.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.common import percentile, raise_nofile


def _has_opening(buffer: bytes) -> bool:
    """Headers received and at least one complete frame (LF or CRLF line endings)."""
    _head, sep, body = buffer.partition(b"\r\n\r\n")
    return bool(sep) and (b"\n\n" in body or b"\r\n\r\n" in body)


async def watcher(
    host: str,
    port: int,
    path: str,
    marker: bytes,
    opened: asyncio.Event,
    counter: list[int],
    n: int,
    results: list[float],
    trigger_at: list[float],
    frames: list[int],
    index: int,
) -> None:
    # Spread the clients over many source addresses: one address's ephemeral ports run out
    # after a few rounds of 10,000 connections (closed ones linger in TIME_WAIT).
    source = (f"127.0.{(index // 250) % 250}.{1 + index % 250}", 0)
    reader, writer = await asyncio.open_connection(host, port, local_addr=source)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    buffer = b""
    while not _has_opening(buffer):
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("closed before the opening")
        buffer += chunk
    counter[0] += 1
    if counter[0] == n:
        opened.set()
    seen = 0  # frames of the opening are not part of the broadcast
    buffer = buffer[-len(marker) :]
    while marker not in buffer:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("closed before the broadcast")
        seen += chunk.count(b"\nevent: ")
        buffer = buffer[-len(marker) :] + chunk
    results.append((time.perf_counter() - trigger_at[0]) * 1000)
    frames.append(seen)
    writer.close()


async def main() -> None:
    host, port, path, trigger, n, marker = (
        sys.argv[1],
        int(sys.argv[2]),
        sys.argv[3],
        sys.argv[4],
        int(sys.argv[5]),
        sys.argv[6].encode(),
    )
    body = sys.argv[7].encode() if len(sys.argv) > 7 else b""
    frames: list[int] = []
    opened = asyncio.Event()
    counter = [0]
    results: list[float] = []
    trigger_at = [0.0]
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        tasks.append(
            asyncio.create_task(
                watcher(
                    host, port, path, marker, opened, counter, n, results, trigger_at, frames, i
                )
            )
        )
        if i % 200 == 199:
            await asyncio.sleep(0.01)  # let the server accept in waves, like real clients
    await asyncio.wait_for(opened.wait(), 120)
    connect_s = time.perf_counter() - t0
    print("OPENED", flush=True)  # the runner reads the server's memory now
    await asyncio.sleep(1.5)
    _, writer = await asyncio.open_connection(host, port)
    trigger_at[0] = time.perf_counter()
    head = (
        f"POST {trigger} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    done, _ = await asyncio.wait(tasks, timeout=60)
    errors = sum(1 for t in done if t.exception() is not None) + (len(tasks) - len(done))
    writer.close()
    print(
        json.dumps(
            {
                "n": n,
                "connect_s": round(connect_s, 3),
                "received": len(results),
                "errors": errors,
                "p50_ms": round(percentile(results, 50), 2),
                "p99_ms": round(percentile(results, 99), 2),
                "max_ms": round(max(results) if results else float("nan"), 2),
                "first_ms": round(min(results) if results else float("nan"), 2),
                "frames": sum(frames),
                "events_per_s": round(sum(frames) / (max(results) / 1000), 1) if results else 0,
            }
        )
    )


if __name__ == "__main__":
    raise_nofile()
    import uvloop

    uvloop.install()
    asyncio.run(main())
