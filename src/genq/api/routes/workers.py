"""``/v1/workers``: the remote-worker protocol (seed 004) and the workers' registry.

A worker authenticates with a worker credential (an API key of role ``worker``; an admin's
works too) and acts only as the workers it registered. See docs/workers.md.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from genq.api.deps import admin, node, worker_caller
from genq.api.routes.jobs import json_response
from genq.api.schemas import NAME_PATTERN
from genq.domain.auth import Principal
from genq.domain.workers import RemoteWorker, status
from genq.node import Node
from genq.service.remote import MAX_WAIT_S, BatchWrite

router = APIRouter(prefix="/v1/workers", tags=["workers"])

NodeDep = Annotated[Node, Depends(node)]
WorkerDep = Annotated[Principal, Depends(worker_caller)]


def _who(caller: Principal) -> str:
    """The identity a worker registration belongs to."""
    return caller.key_id or caller.user_id


async def registered(worker_id: str, genq: NodeDep, caller: WorkerDep) -> RemoteWorker:
    """The worker in the path, which must be one the caller's credential registered."""
    return await genq.remote.worker(worker_id, _who(caller))


RegisteredDep = Annotated[RemoteWorker, Depends(registered)]


async def signed(
    worker_id: str,
    job_id: str,
    genq: NodeDep,
    attempt: Annotated[int, Query(ge=1)],
    sig: Annotated[str, Query(min_length=1, max_length=200)],
) -> RemoteWorker:
    """The worker a pushed attempt's signed callback URL names (callback mode)."""
    return await genq.remote.signed(worker_id, job_id, attempt, sig)


SignedDep = Annotated[RemoteWorker, Depends(signed)]


class Register(BaseModel):
    """``POST /v1/workers``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    queues: list[Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]] = Field(
        min_length=1, max_length=50
    )
    capabilities: list[str] = Field(default_factory=list, max_length=100)
    max_concurrency: int = Field(1, ge=1, le=1000)
    health_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")
    callback_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


class Claim(BaseModel):
    """``POST /v1/workers/{id}/claim``."""

    model_config = ConfigDict(extra="forbid")

    max: int = Field(1, ge=1, le=1000)
    wait_s: float = Field(MAX_WAIT_S, ge=0, le=MAX_WAIT_S)


class Heartbeat(BaseModel):
    """``POST /v1/workers/{id}/heartbeat``: the attempts it runs (job id -> attempt)."""

    model_config = ConfigDict(extra="forbid")

    attempts: dict[str, int] = Field(default_factory=dict, max_length=1000)


class ReportedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.]*$")
    data: dict[str, Any] = Field(default_factory=dict)


class Report(BaseModel):
    """``POST /v1/workers/{id}/jobs/{job_id}/events``."""

    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1)
    events: list[ReportedEvent] = Field(min_length=1, max_length=1000)


class Complete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1)
    result: Any = None
    output_urls: list[str] = Field(default_factory=list, max_length=100)


class ErrorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field("WORKER_ERROR", min_length=1, max_length=100, pattern=r"^[A-Z][A-Z0-9_]*$")
    message: str = Field(min_length=1, max_length=4000)
    details: Any = None


class Fail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1)
    error: ErrorIn
    retryable: bool = True


class Attempt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1)


class Write(BaseModel):
    """One write of ``POST /v1/workers/{id}/batch``."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=100)
    attempt: int = Field(ge=1)
    events: list[ReportedEvent] = Field(default_factory=list, max_length=1000)
    end: Literal["complete", "fail", "cancelled", "release"] | None = None
    result: Any = None
    error: ErrorIn | None = None
    retryable: bool = True


class Batch(BaseModel):
    """``POST /v1/workers/{id}/batch``: many attempts' events and endings at once."""

    model_config = ConfigDict(extra="forbid")

    writes: list[Write] = Field(min_length=1, max_length=1000)


class Callback(BaseModel):
    """``POST {callbackUrl}``: a callback worker's report on the attempt it was pushed."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["processing", "completed", "failed", "cancelled"]
    progress: float | None = Field(None, ge=0, le=100)
    message: str | None = Field(None, max_length=2000)
    step: str | None = Field(None, max_length=200)
    events: list[ReportedEvent] = Field(default_factory=list, max_length=1000)
    result: Any = None
    output_urls: list[str] = Field(default_factory=list, max_length=100)
    error: ErrorIn | None = None
    retryable: bool = True

    def reported(self) -> list[tuple[str, dict[str, Any]]]:
        """The events the report adds: those given, then its progress as ``step_progress``."""
        events = [(e.type, e.data) for e in self.events]
        if self.progress is not None or self.message is not None or self.step is not None:
            data: dict[str, Any] = {}
            if self.step is not None:
                data["step"] = self.step
            if self.progress is not None:
                data["progress"] = self.progress
            if self.message is not None:
                data["message"] = self.message
            events.append(("step_progress", data))
        return events


def _with_urls(result: Any, output_urls: list[str]) -> Any:
    """A completed attempt's result, with the output URLs the worker gave beside it."""
    return {"output": result, "outputUrls": output_urls} if output_urls else result


def _describe(w: RemoteWorker, running: int, heartbeat_s: float) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "queues": w.queues,
        "capabilities": w.capabilities,
        "maxConcurrency": w.max_concurrency,
        "activeJobs": running,
        "load": round(running / w.max_concurrency, 3),
        "status": status(w.last_seen_at, time.time(), heartbeat_s, w.health),
        "lastHeartbeat": w.last_seen_at,
        "registeredAt": w.registered_at,
        "healthUrl": w.health_url,
        "health": w.health,
    }


@router.post("", status_code=201, summary="Register a remote worker")
async def register(body: Register, genq: NodeDep, caller: WorkerDep) -> Response:
    """The new worker's id, and the lease and heartbeat intervals it must keep."""
    w = await genq.remote.register(
        _who(caller),
        body.name,
        body.queues,
        body.capabilities,
        body.max_concurrency,
        body.health_url,
        body.callback_url,
    )
    answer: dict[str, Any] = {
        "id": w.id,
        "leaseSeconds": genq.remote.lease_s,
        "heartbeatSeconds": genq.remote.heartbeat_s,
    }
    if w.callback_url:
        answer["callbackSecret"] = await genq.remote.callback_secret(w)
        if genq.pusher is not None:
            genq.pusher.forget_workers()
            genq.pusher.poke()
    return json_response(answer, 201)


@router.get("", summary="The remote workers' registry (admin)")
async def list_workers(genq: NodeDep, _: Annotated[Principal, Depends(admin)]) -> Response:
    """Each worker with its last heartbeat, status (healthy, unhealthy, offline), active
    jobs and load."""
    found, running = await genq.store.list_workers()
    return json_response(
        {"workers": [_describe(w, running.get(w.id, 0), genq.remote.heartbeat_s) for w in found]}
    )


@router.post("/{worker_id}/claim", summary="Claim jobs (long poll)")
async def claim(body: Claim, genq: NodeDep, w: RegisteredDep) -> Response:
    """Up to ``max`` jobs of the worker's queues, waiting up to ``wait_s`` (at most 30)."""
    jobs = await genq.remote.claim(w, min(body.max, w.max_concurrency), body.wait_s)
    return json_response({"jobs": [j.to_dict() for j in jobs]})


@router.post("/{worker_id}/heartbeat", summary="Renew leases; learn of cancels")
async def heartbeat(body: Heartbeat, genq: NodeDep, w: RegisteredDep) -> Response:
    """``cancel`` lists jobs a client cancelled (stop them and report ``cancelled``);
    ``lost`` lists jobs whose lease is gone (drop them: they run elsewhere)."""
    state = await genq.remote.heartbeat(w, body.attempts)
    return json_response(
        {"renewed": state.renewed, "cancel": state.cancel_requested, "lost": state.lost}
    )


@router.post("/{worker_id}/jobs/{job_id}/events", status_code=204, summary="Report events")
async def report(job_id: str, body: Report, genq: NodeDep, w: RegisteredDep) -> Response:
    """Progress (``step_progress`` with ``progress`` 0-100), ``log``, ``step_started``,
    ``step_completed`` and pipeline events of a running attempt."""
    events = [(e.type, e.data) for e in body.events]
    await genq.remote.report(w, job_id, body.attempt, events)
    return Response(status_code=204)


@router.post("/{worker_id}/batch", summary="Report and end many attempts in one call")
async def batch(body: Batch, genq: NodeDep, w: RegisteredDep) -> Response:
    """Each write adds events to a running attempt and may end it (``end``: complete with
    ``result``, fail with ``error`` and ``retryable``, cancelled, release), applied in
    order in one transaction. ``written`` lists the jobs written to; ``refused`` says why
    the others were not (``LEASE_LOST``, ``NOT_CANCELLED``)."""
    writes = [
        BatchWrite(
            x.job_id,
            x.attempt,
            [(e.type, e.data) for e in x.events],
            x.end,
            x.result,
            x.error.model_dump() if x.error else None,
            x.retryable,
        )
        for x in body.writes
    ]
    written, refused = await genq.remote.write_batch(w, writes)
    return json_response({"written": written, "refused": refused})


@router.post("/{worker_id}/jobs/{job_id}/complete", summary="Complete an attempt")
async def complete(job_id: str, body: Complete, genq: NodeDep, w: RegisteredDep) -> Response:
    """The job ends ``completed`` with ``result`` (and ``output_urls`` in it)."""
    result = _with_urls(body.result, body.output_urls)
    job = await genq.remote.complete(w, job_id, body.attempt, result)
    return json_response(job.to_dict())


@router.post("/{worker_id}/jobs/{job_id}/fail", summary="Fail an attempt")
async def fail(job_id: str, body: Fail, genq: NodeDep, w: RegisteredDep) -> Response:
    """The job's retry policy decides: another attempt later, or failed for good."""
    e = body.error
    job = await genq.remote.fail(
        w, job_id, body.attempt, e.code, e.message, body.retryable, e.details
    )
    return json_response(job.to_dict())


@router.post("/{worker_id}/jobs/{job_id}/cancelled", summary="Confirm a cancel")
async def cancelled(job_id: str, body: Attempt, genq: NodeDep, w: RegisteredDep) -> Response:
    """The worker stopped the attempt a client cancelled; the job ends ``cancelled``."""
    job = await genq.remote.cancelled(w, job_id, body.attempt)
    return json_response(job.to_dict())


@router.post("/{worker_id}/jobs/{job_id}/release", summary="Give a job back unfinished")
async def release(job_id: str, body: Attempt, genq: NodeDep, w: RegisteredDep) -> Response:
    """The worker stops without finishing (it is shutting down): the job is queued again
    at once, and this attempt does not count against its ``max_attempts``."""
    job = await genq.remote.release(w, job_id, body.attempt)
    return json_response(job.to_dict())


@router.put("/{worker_id}/jobs/{job_id}/files/{name}", status_code=201, summary="Upload a file")
async def upload(
    worker_id: str,
    job_id: str,
    name: str,
    attempt: Annotated[int, Query(ge=1)],
    request: Request,
    genq: NodeDep,
    sig: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    """Store an output file of a running attempt in genq's blob store; its URL. A callback
    worker adds its callback URL's ``sig`` instead of sending a credential."""
    if sig is not None:
        w = await genq.remote.signed(worker_id, job_id, attempt, sig)
    else:
        w = await registered(worker_id, genq, await worker_caller(request))
    kind = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    body = await request.body()
    blob = await genq.remote.upload(w, job_id, attempt, name, body, kind)
    return json_response({"url": blob.url, "size": blob.size, "contentType": kind}, 201)


@router.post(
    "/{worker_id}/jobs/{job_id}/callback", summary="Report on a pushed job (callback mode)"
)
async def callback(
    job_id: str,
    body: Callback,
    genq: NodeDep,
    w: SignedDep,
    attempt: Annotated[int, Query(ge=1)],
) -> Response:
    """The signed URL a push carries is the credential. ``processing`` adds events and
    renews the lease (answer ``{cancel}``: true when a client cancelled; stop and report
    ``cancelled``); ``completed``, ``failed`` and ``cancelled`` end the attempt (answer: the
    job)."""
    error = body.error.model_dump() if body.error else None
    job, cancel = await genq.remote.callback(
        w,
        job_id,
        attempt,
        body.status,
        body.reported(),
        _with_urls(body.result, body.output_urls),
        error,
        body.retryable,
    )
    if job is None:
        return json_response({"cancel": cancel, "leaseSeconds": genq.remote.lease_s})
    return json_response(job.to_dict())
