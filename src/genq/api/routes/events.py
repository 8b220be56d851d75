"""SSE: ``/v1/jobs/{id}/events`` (one job) and ``/v1/events`` (all of the caller's jobs).

A stream lives for minutes or hours, and whatever the framework keeps for a request lives
as long. So the streams are served by plain ASGI endpoints (:data:`raw_routes`, mounted
ahead of the FastAPI routes) that keep only the watcher; the FastAPI routes of the same
paths document them in the OpenAPI schema and answer when the app is used without the raw
routes. Both go through the same ``open_*`` functions.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from genq.api.deps import all_stream_caller, job_stream_caller, node
from genq.api.sse import EventStream
from genq.domain.auth import Principal
from genq.domain.errors import InvalidRequest
from genq.domain.events import Event
from genq.domain.sse import comment, frame, global_frame, job_frame, parse_last_event_id
from genq.domain.states import TERMINAL
from genq.node import Node

router = APIRouter(prefix="/v1", tags=["events"])

NodeDep = Annotated[Node, Depends(node)]
StreamToken = Annotated[
    str | None,
    Query(
        description="a stream token from POST /v1/auth/stream-token, for clients that "
        "cannot send headers (EventSource)"
    ),
]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
REPLAY_PAGE = 1000
GLOBAL_REPLAY_LIMIT = 10_000
SSE_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"description": "An event stream", "content": {"text/event-stream": {}}}
}


async def open_job_stream(
    request: Request, genq: Node, caller: Principal, job_id: str, start: int
) -> EventStream:
    """Register a watcher of one job, then read its snapshot and replay."""
    # Register before reading, so that nothing published after the read is missed.
    watcher = genq.hub.watch_job(job_id)
    try:
        job = await genq.jobs.get(job_id, caller.scope)
        start = min(start, job.last_seq)
        events: list[Event] = []
        while True:
            after = events[-1].seq if events else start
            page = await genq.store.read_events(job_id, after, REPLAY_PAGE)
            events.extend(page)
            if len(page) < REPLAY_PAGE:
                break
    except BaseException:
        genq.hub.forget(watcher)
        raise
    last = events[-1].seq if events else start
    genq.hub.seen(job_id, last)
    opening = b"".join(
        [comment(f"connected to job {job_id}"), frame(job.to_dict(), "snapshot")]
        + [job_frame(e) for e in events]
    )
    done = job.status in TERMINAL and last >= job.last_seq
    gauge = request.app.state.metrics.sse_connections
    return EventStream(genq.hub, genq.store, watcher, opening, last, done, gauge.inc, gauge.dec)


async def open_all_stream(
    request: Request, genq: Node, caller: Principal, start: int
) -> EventStream:
    """Register a watcher of all the caller's jobs, then read the replay after ``start``."""
    watcher = genq.hub.watch_all(caller.scope)
    try:
        events = (
            await genq.store.read_all_events(start, caller.scope, GLOBAL_REPLAY_LIMIT)
            if start
            else []
        )
    except BaseException:
        genq.hub.forget(watcher)
        raise
    last = events[-1].cursor if events else start
    opening = b"".join([comment("connected to all events")] + [global_frame(e) for e in events])
    gauge = request.app.state.metrics.sse_connections
    return EventStream(genq.hub, genq.store, watcher, opening, last, False, gauge.inc, gauge.dec)


@router.get(
    "/jobs/{job_id}/events",
    summary="Watch one job (SSE)",
    response_class=EventStream,
    response_model=None,
    status_code=200,
    responses=SSE_RESPONSE,
)
async def job_events(
    job_id: str,
    request: Request,
    genq: NodeDep,
    caller: Annotated[Principal, Depends(job_stream_caller)],
    last_event_id: LastEventId = None,
    after: Annotated[int | None, Query(ge=0, description="like Last-Event-ID")] = None,
    token: StreamToken = None,
) -> EventStream:
    """A comment, a ``snapshot`` of the job, the events after Last-Event-ID, then live ones;
    ends after the terminal event."""
    start = parse_last_event_id(last_event_id) or (after or 0)
    return await open_job_stream(request, genq, caller, job_id, start)


@router.get(
    "/events",
    summary="Watch every job the caller may see (SSE)",
    response_class=EventStream,
    response_model=None,
    status_code=200,
    responses=SSE_RESPONSE,
)
async def all_events(
    request: Request,
    genq: NodeDep,
    caller: Annotated[Principal, Depends(all_stream_caller)],
    last_event_id: LastEventId = None,
    token: StreamToken = None,
) -> EventStream:
    """Live events of all the caller's jobs; with Last-Event-ID, the missed ones first."""
    return await open_all_stream(request, genq, caller, parse_last_event_id(last_event_id))


def _after(scope: Scope) -> int:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    if not values:
        return 0
    try:
        value = int(values[-1])
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidRequest("after must be a whole number", {"field": "after", "in": "query"})
    return value


class _JobEventsEndpoint:
    """Plain ASGI twin of :func:`job_events`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        job_id = scope["path_params"]["job_id"]
        caller = await job_stream_caller(request, job_id)
        start = parse_last_event_id(request.headers.get("last-event-id")) or _after(scope)
        stream = await open_job_stream(request, await node(request), caller, job_id, start)
        del request
        await stream(scope, receive, send)


class _AllEventsEndpoint:
    """Plain ASGI twin of :func:`all_events`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        caller = await all_stream_caller(request)
        start = parse_last_event_id(request.headers.get("last-event-id"))
        stream = await open_all_stream(request, await node(request), caller, start)
        del request
        await stream(scope, receive, send)


raw_routes = [
    Route("/v1/jobs/{job_id}/events", _JobEventsEndpoint(), methods=["GET"]),
    Route("/v1/events", _AllEventsEndpoint(), methods=["GET"]),
]
