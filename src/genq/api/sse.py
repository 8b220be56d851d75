"""SSE streams as bare ASGI responses: one task per connection, frames sent as encoded.

The route prepares the opening (comment, snapshot, replay) and registers the watcher with
the hub before reading the replay; this response then forwards live frames, drops
duplicates by sequence number, fills gaps from the store, and ends after a terminal event
(job streams) or when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from genq.domain.sse import job_frame
from genq.service.events import EventHub, Watcher
from genq.store.base import Store

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


class EventStream(Response):
    """An SSE response fed by a hub watcher (a Response only so frameworks pass it through)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: EventHub,
        store: Store,
        watcher: Watcher,
        opening: bytes,
        last: int,
        done: bool,
        on_open: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = 200
        self.background = None
        self.hub = hub
        self.store = store
        self.watcher = watcher
        self.opening = opening
        self.last = last  # job streams: newest seq sent; all-jobs stream: newest replayed cursor
        self.done = done
        self.on_open = on_open
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = self.watcher
        listener = asyncio.create_task(self._until_disconnect(receive))
        if self.on_open:
            self.on_open()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": self.opening, "more_body": True})
            tail = b""
            while not self.done:
                seq, data, end = await watcher.next()
                if seq == -2:
                    break
                if seq >= 0:
                    if watcher.job_id is not None:
                        if seq <= self.last:
                            continue
                        if seq > self.last + 1 and await self._fill_gap(send, seq):
                            break
                        self.last = seq
                    elif seq <= self.last:
                        continue  # already sent in the replay
                if end:
                    tail = data
                    break
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": tail, "more_body": False})
            # A broadcast wakes every watcher in one loop turn: let them all write before any
            # of them spends time closing its stream.
            await asyncio.sleep(0)
        except OSError:
            pass  # the client went away mid-write
        finally:
            listener.cancel()
            self.hub.forget(watcher)
            if self.on_close:
                self.on_close()

    async def _fill_gap(self, send: Send, seq: int) -> bool:
        """Send the events between the last sent and ``seq`` from the store; True if one ended."""
        assert self.watcher.job_id is not None
        missing = await self.store.read_events(self.watcher.job_id, self.last, seq - self.last - 1)
        for event in missing:
            await send({"type": "http.response.body", "body": job_frame(event), "more_body": True})
            self.last = event.seq
            if event.terminal:
                return True
        return False

    async def _until_disconnect(self, receive: Receive) -> None:
        with contextlib.suppress(Exception):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
        self.watcher.close()
