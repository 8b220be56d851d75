"""PostgreSQL LISTEN/NOTIFY bus, for several processes on one database.

Messages are delivered locally at once and sent to other processes with ``pg_notify``;
each carries its origin so a process ignores its own echo. NOTIFY payloads are limited to
8000 bytes: event batches are split, and a single event too large to travel is sent as an
:class:`EventRef` for the listener to read from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg
import orjson

from genq.bus.base import CHANNELS, EVENTS, Bus, EventRef
from genq.domain.events import Event

log = logging.getLogger("genq.bus")

_PREFIX = "genq_"
_MAX_PAYLOAD = 7800


def _encode_event(e: Event) -> list[Any]:
    return [e.job_id, e.seq, e.type, e.data, e.timestamp, e.cursor, e.owner]


def _decode_item(item: list[Any]) -> Event | EventRef:
    if len(item) == 2:
        return EventRef(item[0], item[1])
    return Event(
        job_id=item[0],
        seq=item[1],
        type=item[2],
        data=item[3],
        timestamp=item[4],
        cursor=item[5],
        owner=item[6],
    )


def encode_payloads(origin: str, channel: str, message: Any) -> list[bytes]:
    """The NOTIFY payloads for one message, each under the size limit."""
    if channel != EVENTS:
        return [orjson.dumps({"o": origin, "m": message})]
    payloads: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    head = b'{"o":' + orjson.dumps(origin) + b',"m":['
    for event in message:
        item = orjson.dumps(_encode_event(event))
        if len(head) + len(item) + 2 > _MAX_PAYLOAD:
            item = orjson.dumps([event.job_id, event.seq])
        if batch and size + len(item) + len(head) + 2 > _MAX_PAYLOAD:
            payloads.append(head + b",".join(batch) + b"]}")
            batch, size = [], 0
        batch.append(item)
        size += len(item) + 1
    if batch:
        payloads.append(head + b",".join(batch) + b"]}")
    return payloads


def decode_payload(channel: str, payload: str) -> tuple[str, Any]:
    """(origin, message) from a NOTIFY payload."""
    doc = orjson.loads(payload)
    message = doc["m"]
    if channel == EVENTS:
        message = [_decode_item(i) for i in message]
    return doc["o"], message


class PostgresBus(Bus):
    """Bus over LISTEN/NOTIFY, reconnecting by itself when the connection drops."""

    def __init__(self, dsn: str, reconnect_s: float = 1.0) -> None:
        super().__init__()
        self.dsn = dsn
        self.reconnect_s = reconnect_s
        self.origin = uuid.uuid4().hex
        # Every payload starts with its origin (see encode_payloads).
        self._echo_prefix = '{"o":' + orjson.dumps(self.origin).decode()
        self._listen: Any = None
        self._send: Any = None
        self._send_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening(), name="genq-pg-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout=5)

    async def stop(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for conn in (self._listen, self._send):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _keep_listening(self) -> None:
        while not self._closing:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in CHANNELS:
                    await conn.add_listener(_PREFIX + channel, self._on_notify)
                self._listen = conn
                self.connected.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("postgres bus disconnected (%s); reconnecting", exc)
            self.connected.clear()
            await asyncio.sleep(self.reconnect_s)

    def _on_notify(self, _conn: Any, _pid: int, pg_channel: str, payload: str) -> None:
        if payload.startswith(self._echo_prefix):
            return  # this process's own message, delivered when it was published
        channel = pg_channel[len(_PREFIX) :]
        try:
            origin, message = decode_payload(channel, payload)
        except Exception:
            log.exception("undecodable bus payload on %s", pg_channel)
            return
        if origin != self.origin:
            self._deliver(channel, message)

    async def publish(self, channel: str, message: Any) -> None:
        self._deliver(channel, message)
        payloads = encode_payloads(self.origin, channel, message)
        async with self._send_lock:
            try:
                if self._send is None or self._send.is_closed():
                    self._send = await asyncpg.connect(self.dsn, timeout=5)
                for payload in payloads:
                    await self._send.execute(
                        "SELECT pg_notify($1, $2)", _PREFIX + channel, payload.decode()
                    )
            except Exception as exc:
                # Listeners elsewhere still see the change through their safety-net polls and
                # the store; losing a wake-up delays them, it loses nothing.
                log.warning("postgres bus publish failed (%s)", exc)
                self._send = None
