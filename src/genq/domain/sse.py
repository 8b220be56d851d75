"""The Server-Sent Events wire format: frames encoded once, shared by every watcher. Pure."""

from __future__ import annotations

from typing import Any

import orjson

from genq.domain.events import Event

HEARTBEAT = b": heartbeat\n\n"


def frame(data: Any, event: str | None = None, id: str | int | None = None) -> bytes:
    """One SSE frame. ``data`` is JSON-encoded (so it never contains a newline)."""
    head = b""
    if id is not None:
        head += b"id: %s\n" % str(id).encode()
    if event is not None:
        head += b"event: %s\n" % event.encode()
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def comment(text: str) -> bytes:
    """A comment line, ignored by clients (used to open streams and keep them alive)."""
    return b": " + text.replace("\n", " ").encode() + b"\n\n"


def job_frame(event: Event) -> bytes:
    """An event on a job's own stream: its id is the job's event sequence number."""
    return frame(event.to_dict(), event.type, event.seq)


def global_frame(event: Event) -> bytes:
    """An event on the all-jobs stream: its id is the global cursor."""
    return frame(event.to_dict(), event.type, event.cursor)


def parse_last_event_id(value: str | None) -> int:
    """The Last-Event-ID header as a number (0 when absent or not a number)."""
    if not value:
        return 0
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return 0
