"""SSE streams over real HTTP: shape, replay, resume without gaps or duplicates, fan-out."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from genq.client import SSEDecoder, SSEMessage
from tests.conftest import RunningServer, ServerFactory

TERMINAL = {"job_completed", "job_failed", "job_cancelled"}
STEPS = {"type": "demo.steps", "params": {"steps": 6, "step_ms": 60}}


async def collect(
    client: httpx.AsyncClient,
    path: str,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    decoder: SSEDecoder | None = None,
) -> list[SSEMessage]:
    """Read a stream until it ends, a terminal event, or ``stop_after`` job events."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    decoder = decoder or SSEDecoder()
    out: list[SSEMessage] = []
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"].startswith("no-cache")
        assert response.headers["x-accel-buffering"] == "no"
        async for chunk in response.aiter_bytes():
            for message in decoder.feed(chunk):
                out.append(message)
                events = [m for m in out if m.event != "snapshot"]
                if message.event in TERMINAL or (stop_after and len(events) >= stop_after):
                    return out
    return out


def job_events(messages: list[SSEMessage]) -> list[tuple[int, str]]:
    return [(int(m.id or 0), m.event) for m in messages if m.event != "snapshot"]


async def stored(server: RunningServer, job_id: str) -> list[tuple[int, str]]:
    """Every stored event of the job, page by page."""
    out: list[tuple[int, str]] = []
    while page := await server.node.store.read_events(job_id, out[-1][0] if out else 0):
        out += [(e.seq, e.type) for e in page]
    return out


async def test_stream_opens_with_comment_and_snapshot_then_runs_to_the_terminal_event(
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json=STEPS)).json()
        decoder = SSEDecoder()
        messages = await collect(c, f"/v1/jobs/{job['id']}/events", decoder=decoder)
    assert decoder.comments[0] == f"connected to job {job['id']}"
    assert messages[0].event == "snapshot"
    assert orjson.loads(messages[0].data)["id"] == job["id"]
    seen = job_events(messages)
    assert seen == await stored(server, job["id"])
    assert seen[0] == (1, "job_created")
    assert seen[-1][1] == "job_completed"
    payload = orjson.loads(messages[-1].data)
    assert set(payload) == {"id", "type", "job_id", "timestamp", "data"}


async def test_reconnect_with_last_event_id_replays_missed_events_exactly_once(
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json=STEPS)).json()
        path = f"/v1/jobs/{job['id']}/events"
        got = job_events(await collect(c, path, stop_after=4))
        for _ in range(6):  # drop and resume several times while the job runs
            await asyncio.sleep(0.05)
            more = job_events(await collect(c, path, last_event_id=str(got[-1][0]), stop_after=3))
            got += more
            if got[-1][1] in TERMINAL:
                break
        got += job_events(await collect(c, path, last_event_id=str(got[-1][0])))
    assert got == await stored(server, job["id"])
    assert [seq for seq, _ in got] == list(range(1, len(got) + 1))


async def test_after_query_parameter_resumes_like_last_event_id(
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json=STEPS)).json()
        everything = job_events(await collect(c, f"/v1/jobs/{job['id']}/events"))
        tail = job_events(await collect(c, f"/v1/jobs/{job['id']}/events?after=3"))
    assert tail == everything[3:]


async def test_a_finished_job_replays_and_closes(start_server: ServerFactory) -> None:
    server = await start_server()
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop"})).json()
        for _ in range(500):
            if (await c.get(f"/v1/jobs/{job['id']}")).json()["status"] == "completed":
                break
            await asyncio.sleep(0.01)
        all_events = job_events(await collect(c, f"/v1/jobs/{job['id']}/events"))
        assert [t for _, t in all_events] == ["job_created", "job_started", "job_completed"]
        last = str(all_events[-1][0])
        tail = await collect(c, f"/v1/jobs/{job['id']}/events", last_event_id=last)
        assert [m.event for m in tail] == ["snapshot"]


async def test_one_hundred_watchers_receive_the_same_complete_sequence(
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with server.client(limits=limits) as c:
        job = (
            await c.post(
                "/v1/jobs", json={"type": "demo.steps", "params": {"steps": 4, "step_ms": 200}}
            )
        ).json()
        path = f"/v1/jobs/{job['id']}/events"
        streams = await asyncio.gather(*(collect(c, path) for _ in range(100)))
    expected = await stored(server, job["id"])
    assert expected[-1][1] == "job_completed"
    for messages in streams:
        assert job_events(messages) == expected


async def test_heartbeat_comments_keep_idle_streams_alive(start_server: ServerFactory) -> None:
    server = await start_server(sse_heartbeat_s=0.1)
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop", "delay_s": 3600})).json()
        decoder = SSEDecoder()
        async with c.stream("GET", f"/v1/jobs/{job['id']}/events") as response:
            async for chunk in response.aiter_bytes():
                decoder.feed(chunk)
                if decoder.comments.count("heartbeat") >= 2:
                    break
    assert decoder.comments.count("heartbeat") >= 2


async def test_cancelled_job_stream_ends_with_job_cancelled(start_server: ServerFactory) -> None:
    server = await start_server()
    async with server.client() as c:
        job = (await c.post("/v1/jobs", json={"type": "noop", "delay_s": 3600})).json()
        path = f"/v1/jobs/{job['id']}/events"
        watch = asyncio.create_task(collect(c, path))
        await asyncio.sleep(0.2)
        await c.post(f"/v1/jobs/{job['id']}/cancel", json={"reason": "stop"})
        messages = await asyncio.wait_for(watch, 10)
    assert [t for _, t in job_events(messages)] == ["job_created", "job_cancelled"]
    assert orjson.loads(messages[-1].data)["data"]["reason"] == "stop"


async def test_all_events_stream_follows_every_job_and_resumes(start_server: ServerFactory) -> None:
    server = await start_server()
    async with server.client() as c:

        async def watch_all(last: str | None, count: int) -> list[SSEMessage]:
            headers = {"Last-Event-ID": last} if last else {}
            out: list[SSEMessage] = []
            decoder = SSEDecoder()
            async with c.stream("GET", "/v1/events", headers=headers) as response:
                async for chunk in response.aiter_bytes():
                    out += decoder.feed(chunk)
                    if len(out) >= count:
                        return out
            return out

        watcher = asyncio.create_task(watch_all(None, 6))
        await asyncio.sleep(0.2)
        ids = [(await c.post("/v1/jobs", json={"type": "noop"})).json()["id"] for _ in range(2)]
        first = await asyncio.wait_for(watcher, 10)
        assert {orjson.loads(m.data)["job_id"] for m in first} == set(ids)
        cursors = [int(m.id or 0) for m in first]
        assert cursors == sorted(cursors)
        resumed = await asyncio.wait_for(watch_all(str(cursors[2]), 3), 10)
        assert [m.id for m in resumed] == [m.id for m in first[3:6]]
