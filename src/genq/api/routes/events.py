"""SSE: ``/v1/jobs/{id}/events`` (one job) and ``/v1/events`` (all of the caller's jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from genq.api.deps import Principal, node, principal
from genq.api.sse import EventStream
from genq.domain.events import Event
from genq.domain.sse import comment, frame, global_frame, job_frame, parse_last_event_id
from genq.domain.states import TERMINAL
from genq.node import Node

router = APIRouter(prefix="/v1", tags=["events"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
REPLAY_PAGE = 1000
SSE_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"description": "An event stream", "content": {"text/event-stream": {}}}
}
GLOBAL_REPLAY_LIMIT = 10_000


def _metrics_hooks(request: Request) -> dict[str, object]:
    gauge = request.app.state.metrics.sse_connections
    return {"on_open": gauge.inc, "on_close": gauge.dec}


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
    caller: CallerDep,
    last_event_id: LastEventId = None,
    after: Annotated[int | None, Query(ge=0, description="like Last-Event-ID")] = None,
) -> EventStream:
    """A comment, a ``snapshot`` of the job, the events after Last-Event-ID, then live ones;
    ends after the terminal event."""
    # Register before reading, so that nothing published after the read is missed.
    watcher = genq.hub.watch_job(job_id)
    try:
        job = await genq.jobs.get(job_id, caller.scope)
        start = min(parse_last_event_id(last_event_id) or (after or 0), job.last_seq)
        events: list[Event] = []
        while True:
            page = await genq.store.read_events(
                job_id, events[-1].seq if events else start, REPLAY_PAGE
            )
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
    return EventStream(
        genq.hub,
        genq.store,
        watcher,
        opening,
        last,
        done,
        **_metrics_hooks(request),  # type: ignore[arg-type]
    )


@router.get(
    "/events",
    summary="Watch every job the caller may see (SSE)",
    response_class=EventStream,
    response_model=None,
    status_code=200,
    responses=SSE_RESPONSE,
)
async def all_events(
    request: Request, genq: NodeDep, caller: CallerDep, last_event_id: LastEventId = None
) -> EventStream:
    """Live events of all the caller's jobs; with Last-Event-ID, the missed ones first."""
    watcher = genq.hub.watch_all(caller.scope)
    start = parse_last_event_id(last_event_id)
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
    return EventStream(
        genq.hub,
        genq.store,
        watcher,
        opening,
        last,
        False,
        **_metrics_hooks(request),  # type: ignore[arg-type]
    )
