"""The floor for SSE fan-out: a minimal sse-starlette app with an in-memory broadcaster.

GET /events streams; POST /publish sends one event to every connected stream.
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

subscribers: set[asyncio.Queue[dict[str, str]]] = set()


async def events(request: Request) -> EventSourceResponse:
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    subscribers.add(queue)

    async def stream():  # type: ignore[no-untyped-def]
        try:
            yield {"event": "connected", "data": "{}"}
            while True:
                message = await queue.get()
                yield message
                if message["event"] == "job_cancelled":
                    return
        finally:
            subscribers.discard(queue)

    return EventSourceResponse(stream(), ping=15)


async def publish(request: Request) -> Response:
    # ?n=M first sends M progress-sized events (the sustained-rate round), then the terminal.
    for i in range(int(request.query_params.get("n", "0"))):
        data = json.dumps({"type": "log", "data": {"i": i}})
        event = {"event": "log", "id": str(i + 3), "data": data}
        for queue in list(subscribers):
            queue.put_nowait(event)
    message = {
        "event": "job_cancelled",
        "id": "2",
        "data": '{"type":"job_cancelled","data":{"reason":"bench"}}',
    }
    for queue in list(subscribers):
        queue.put_nowait(message)
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/events", events),
        Route("/publish", publish, methods=["POST"]),
        Route("/healthz", lambda r: Response("ok")),
    ]
)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )
