"""The buses: in-memory delivery, and LISTEN/NOTIFY between processes' buses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genq.bus.base import CONTROL, EVENTS, JOBS, EventRef
from genq.bus.memory import MemoryBus
from genq.bus.postgres import PostgresBus, decode_payload, encode_payloads
from genq.domain.events import Event


def event(seq: int, size: int = 10) -> Event:
    return Event("job-1", seq, "log", {"message": "x" * size}, 1.5, cursor=100 + seq, owner="u")


async def test_memory_bus_delivers_in_order_and_unsubscribes() -> None:
    bus = MemoryBus()
    seen: list[Any] = []
    unsubscribe = bus.subscribe(JOBS, seen.append)
    await bus.publish(JOBS, ["a"])
    await bus.publish(JOBS, ["b"])
    unsubscribe()
    await bus.publish(JOBS, ["c"])
    assert seen == [["a"], ["b"]]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = MemoryBus()
    seen: list[Any] = []

    def broken(_message: Any) -> None:
        raise RuntimeError("boom")

    bus.subscribe(CONTROL, broken)
    bus.subscribe(CONTROL, seen.append)
    await bus.publish(CONTROL, {"cancel": {"j": None}})
    assert seen == [{"cancel": {"j": None}}]


def test_event_payloads_stay_under_the_notify_limit_and_round_trip() -> None:
    events = [event(i, 500) for i in range(1, 60)] + [event(60, 20_000)]
    payloads = encode_payloads("origin", EVENTS, events)
    assert len(payloads) > 1
    assert all(len(p) < 8000 for p in payloads)
    decoded = [item for p in payloads for item in decode_payload(EVENTS, p.decode())[1]]
    assert decoded[:-1] == events[:-1]
    assert decoded[-1] == EventRef("job-1", 60)  # too large to travel: read from the store


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_postgres_bus_carries_messages_between_processes_buses(db_url: str) -> None:
    dsn = db_url.replace("postgresql://", "postgresql://", 1)
    sender, receiver = PostgresBus(dsn), PostgresBus(dsn)
    await sender.start()
    await receiver.start()
    got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    own: list[Any] = []
    for channel in (EVENTS, JOBS, CONTROL):
        receiver.subscribe(channel, lambda m, c=channel: got.put_nowait((c, m)))
    sender.subscribe(JOBS, own.append)
    try:
        await sender.publish(JOBS, ["default"])
        await sender.publish(EVENTS, [event(1), event(2)])
        await sender.publish(CONTROL, {"cancel": {"job-1": "stop"}})
        received = [await asyncio.wait_for(got.get(), 5) for _ in range(3)]
    finally:
        await sender.stop()
        await receiver.stop()
    assert received == [
        (JOBS, ["default"]),
        (EVENTS, [event(1), event(2)]),
        (CONTROL, {"cancel": {"job-1": "stop"}}),
    ]
    assert own == [["default"]]  # delivered locally once, its own echo ignored
