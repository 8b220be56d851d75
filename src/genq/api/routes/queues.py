"""``/v1/queues``: statistics, and cleaning finished jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from genq.api.deps import admin, node, principal
from genq.api.routes.jobs import json_response
from genq.api.schemas import CleanBody
from genq.domain.auth import Principal
from genq.domain.states import JobStatus
from genq.node import Node

router = APIRouter(prefix="/v1", tags=["queues"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
AdminDep = Annotated[Principal, Depends(admin)]


@router.get("/queues", summary="Queue statistics")
async def queues(genq: NodeDep, caller: CallerDep) -> Response:
    """Per queue: counts by state, throughput and wait/run percentiles over 5 minutes."""
    return json_response(await genq.jobs.queue_stats(caller.scope))


@router.post("/queues/clean", summary="Delete old finished jobs")
async def clean(body: CleanBody, genq: NodeDep, caller: AdminDep) -> Response:
    """Delete jobs of ``status`` that finished more than ``grace_s`` ago, with their events."""
    deleted = await genq.jobs.clean(body.grace_s, [JobStatus(body.status)])
    return json_response({"deleted": deleted, "status": body.status, "grace_s": body.grace_s})
