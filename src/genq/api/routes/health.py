"""``/healthz`` (alive), ``/readyz`` (store reachable, schema current) and ``/metrics``."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from genq.api.deps import node
from genq.api.routes.jobs import json_response
from genq.domain.errors import StoreUnavailable
from genq.node import Node
from genq.store.migrate import HEAD_REVISION

router = APIRouter(tags=["health"])

NodeDep = Annotated[Node, Depends(node)]


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Readiness")
async def readyz(genq: NodeDep) -> Response:
    """The store answers and its schema is the one this genq expects."""
    await genq.store.ping()
    revision = await genq.store.schema_revision()
    if revision != HEAD_REVISION:
        raise StoreUnavailable(
            "the database schema is not current; run genq migrate",
            {"schema": revision, "expected": HEAD_REVISION},
        )
    return json_response({"status": "ready", "schema": revision, "database": genq.store.dialect})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request, genq: NodeDep) -> Response:
    """Jobs by type and state, queue depth, job durations, SSE connections, HTTP latency."""
    m = request.app.state.metrics
    with contextlib.suppress(StoreUnavailable):  # still export what this process knows
        m.set_job_counts(await genq.store.count_jobs(None))
    return Response(m.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
