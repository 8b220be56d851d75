"""EventHub: fan-out of job events to watchers (SSE connections) in this process.

Each event is encoded once and the same bytes are handed to every watcher of its job.
A watcher registers before it reads its replay from the store, so nothing published after
the replay's read is missed; sequence numbers drop duplicates and reveal gaps, which the
watcher fills from the store. A periodic resync reads watched jobs' tails from the store, so
an event whose wake-up was lost still arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from genq.bus.base import EVENTS, Bus, EventRef
from genq.domain.events import Event
from genq.domain.sse import HEARTBEAT, global_frame, job_frame
from genq.store.base import Store

log = logging.getLogger("genq.events")

# An item in a watcher's buffer: (sequence or cursor, frame bytes, ends the stream).
Item = tuple[int, bytes, bool]
_HEARTBEAT_ITEM: Item = (-1, HEARTBEAT, False)
_CLOSE_ITEM: Item = (-2, b"", True)


class Watcher:
    """One connection's buffer of frames, filled by the hub, drained by the connection."""

    __slots__ = ("_items", "_waiter", "closed", "job_id", "limit", "overflowed", "owner")

    def __init__(self, job_id: str | None, owner: str | None, limit: int) -> None:
        self.job_id = job_id
        self.owner = owner
        self.limit = limit
        self.closed = False
        self.overflowed = False
        self._items: deque[Item] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def push(self, item: Item) -> None:
        """Buffer an item; a watcher too slow to keep up is closed (it may resume later)."""
        if self.closed:
            return
        if len(self._items) >= self.limit:
            self.overflowed = True
            self.close()
            return
        self._items.append(item)
        self._wake()

    def close(self) -> None:
        """End the stream after what is buffered."""
        if not self.closed:
            self.closed = True
            self._items.append(_CLOSE_ITEM)
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Item:
        """The next buffered item, waiting for one."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class EventHub:
    """Routes events from the bus to the watchers of their job and of the all-jobs stream."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        heartbeat_s: float = 15.0,
        resync_s: float = 5.0,
        queue_limit: int = 10_000,
    ) -> None:
        self.store = store
        self.bus = bus
        self.heartbeat_s = heartbeat_s
        self.resync_s = resync_s
        self.queue_limit = queue_limit
        self._by_job: dict[str, set[Watcher]] = {}
        self._all: set[Watcher] = set()
        self._newest: dict[str, int] = {}  # newest sequence dispatched per watched job
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Any = None

    @property
    def watchers(self) -> int:
        """How many watchers are connected."""
        return sum(len(ws) for ws in self._by_job.values()) + len(self._all)

    def start(self) -> None:
        """Listen to the bus and start the heartbeat and resync loops."""
        self._unsubscribe = self.bus.subscribe(EVENTS, self._on_events)
        self._tasks = [
            asyncio.create_task(self._heartbeats(), name="genq-sse-heartbeat"),
            asyncio.create_task(self._resync(), name="genq-sse-resync"),
        ]

    def close_all(self) -> None:
        """End every open stream (clients resume with Last-Event-ID elsewhere)."""
        for ws in list(self._by_job.values()):
            for w in list(ws):
                w.close()
        for w in list(self._all):
            w.close()

    async def stop(self) -> None:
        """Close every watcher and stop."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.close_all()

    def watch_job(self, job_id: str) -> Watcher:
        """A new watcher of one job (register before reading the replay)."""
        w = Watcher(job_id, None, self.queue_limit)
        self._by_job.setdefault(job_id, set()).add(w)
        return w

    def watch_all(self, owner: str | None) -> Watcher:
        """A new watcher of every job of ``owner`` (None: every job)."""
        w = Watcher(None, owner, self.queue_limit)
        self._all.add(w)
        return w

    async def wait_until_done(
        self, job_id: str, timeout_s: float, done: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Wait up to ``timeout_s`` for the job's terminal event; whether it ended.

        ``done`` reads the job's state once the watcher is registered, so an end that came
        before is not missed.
        """
        w = self.watch_job(job_id)
        try:
            if await done():
                return True
            async with asyncio.timeout(timeout_s):
                while True:
                    _, _, ends = await w.next()
                    if ends:
                        return True
        except TimeoutError:
            return False
        finally:
            self.forget(w)

    def seen(self, job_id: str, seq: int) -> None:
        """Note that watchers of ``job_id`` have read up to ``seq`` (so resync starts there)."""
        if seq > self._newest.get(job_id, 0):
            self._newest[job_id] = seq

    def forget(self, w: Watcher) -> None:
        """Remove a watcher whose connection ended."""
        w.closed = True
        if w.job_id is None:
            self._all.discard(w)
            return
        ws = self._by_job.get(w.job_id)
        if ws is not None:
            ws.discard(w)
            if not ws:
                del self._by_job[w.job_id]
                self._newest.pop(w.job_id, None)

    def _on_events(self, items: list[Event | EventRef]) -> None:
        refs = []
        for item in items:
            if isinstance(item, EventRef):
                if item.job_id in self._by_job or self._all:
                    refs.append(item)
            else:
                self.dispatch(item)
        if refs:
            task = asyncio.get_running_loop().create_task(self._fetch_refs(refs))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    def dispatch(self, event: Event) -> None:
        """Hand an event to its watchers, encoding it once per stream kind."""
        ws = self._by_job.get(event.job_id)
        if ws:
            if event.seq > self._newest.get(event.job_id, 0):
                self._newest[event.job_id] = event.seq
            item = (event.seq, job_frame(event), event.terminal)
            for w in tuple(ws):
                w.push(item)
        if self._all:
            g = (event.cursor, global_frame(event), False)
            for w in tuple(self._all):
                if w.owner is None or w.owner == event.owner:
                    w.push(g)

    async def _fetch_refs(self, refs: list[EventRef]) -> None:
        for ref in refs:
            try:
                for event in await self.store.read_events(ref.job_id, ref.seq - 1, 1):
                    self.dispatch(event)
            except Exception as exc:
                log.warning("could not read event %s/%d: %s", ref.job_id, ref.seq, exc)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for ws in list(self._by_job.values()):
                for w in tuple(ws):
                    w.push(_HEARTBEAT_ITEM)
            for w in tuple(self._all):
                w.push(_HEARTBEAT_ITEM)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_s)
            for job_id in list(self._by_job):
                try:
                    missed = await self.store.read_events(job_id, self._newest.get(job_id, 0))
                except Exception as exc:
                    log.warning("resync of %s failed: %s", job_id, exc)
                    continue
                for event in missed:
                    self.dispatch(event)
