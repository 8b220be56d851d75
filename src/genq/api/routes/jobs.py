"""``/v1/jobs``: submit (one or a batch), read, list, cancel and retry jobs."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from genq.api.deps import node, principal, spend
from genq.api.schemas import CancelBody, JobBatch, JobCreate
from genq.domain.auth import Principal
from genq.domain.errors import IdempotencyConflict, InvalidRequest
from genq.domain.ids import is_uuid
from genq.domain.states import TERMINAL, JobStatus
from genq.node import Node
from genq.store.base import Idempotency, JobQuery, StoredResponse, Submitted

router = APIRouter(prefix="/v1", tags=["jobs"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=400,
        description="a repeat of the key returns the first response and creates nothing",
    ),
]


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response encoded with orjson."""
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


def _idempotency(owner: str, key: str | None, path: str, body: BaseModel) -> Idempotency | None:
    if key is None:
        return None
    if not key.strip():
        raise InvalidRequest("Idempotency-Key must not be blank", {"field": "Idempotency-Key"})
    payload = {"path": path, "body": body.model_dump(mode="json")}
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    return Idempotency(owner, key, digest.hexdigest())


def _replay(stored: StoredResponse, idem: Idempotency) -> Response:
    if stored.request_hash != idem.request_hash:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different request", {"key": idem.key}
        )
    return Response(
        stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def _render_one(results: list[Submitted]) -> tuple[int, bytes]:
    result = results[0]
    return (201 if result.created else 200), orjson.dumps(result.job.to_dict())


def _render_batch(results: list[Submitted]) -> tuple[int, bytes]:
    created = sum(1 for r in results if r.created)
    body = {
        "jobs": [r.job.to_dict() for r in results],
        "created": created,
        "deduplicated": len(results) - created,
    }
    return 201, orjson.dumps(body)


MAX_WAIT_S = 60
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+)", re.IGNORECASE)


def wait_preference(prefer: str | None) -> int | None:
    """Seconds from ``Prefer: wait=N`` (RFC 7240), at most :data:`MAX_WAIT_S`."""
    if not prefer:
        return None
    found = _WAIT.search(prefer)
    return None if found is None else min(int(found.group(1)), MAX_WAIT_S)


@router.post("/jobs", status_code=201, summary="Submit a job")
async def create_job(
    body: JobCreate,
    request: Request,
    genq: NodeDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
    prefer: Annotated[
        str | None,
        Header(
            max_length=200,
            description="wait=N (at most 60): answer with the finished job if it ends within "
            "N seconds, else as usual",
        ),
    ] = None,
) -> Response:
    """Create a job (201); a dedupe-key hit answers 200 with the active job."""
    idem = _idempotency(caller.user_id, idempotency_key, "/v1/jobs", body)
    await spend(request, caller, "jobs")
    results, stored = await genq.jobs.submit(
        caller.user_id, [body.to_request()], idem, _render_one, caller.role
    )
    if stored is not None and idem is not None and not results:
        return _replay(stored, idem)
    status, payload = _render_one(results)
    wait_s = wait_preference(prefer)
    if wait_s is None:
        return Response(payload, status_code=status, media_type="application/json")
    job = results[0].job

    async def ended() -> bool:
        nonlocal job
        job = await genq.jobs.get(job.id, caller.scope)
        return job.status in TERMINAL

    if (
        wait_s > 0
        and await genq.hub.wait_until_done(job.id, wait_s, ended)
        and job.status not in TERMINAL
    ):
        await ended()  # the terminal event came while waiting: read what it left
    return json_response(job.to_dict(), status, {"Preference-Applied": f"wait={wait_s}"})


@router.post("/jobs/batch", status_code=201, summary="Submit many jobs, all or nothing")
async def create_jobs(
    body: JobBatch,
    request: Request,
    genq: NodeDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create up to ``max_batch`` jobs in one transaction."""
    limit = genq.settings.max_batch
    if len(body.jobs) > limit:
        raise InvalidRequest(
            f"a batch holds at most {limit} jobs; this one has {len(body.jobs)}",
            {"field": "jobs", "max": limit},
        )
    idem = _idempotency(caller.user_id, idempotency_key, "/v1/jobs/batch", body)
    requests = [j.to_request() for j in body.jobs]
    await spend(request, caller, "jobs", len(requests))
    results, stored = await genq.jobs.submit(
        caller.user_id, requests, idem, _render_batch, caller.role
    )
    if stored is not None and idem is not None:
        if not results:
            return _replay(stored, idem)
        return Response(stored.body, status_code=stored.status_code, media_type="application/json")
    status, payload = _render_batch(results)
    return Response(payload, status_code=status, media_type="application/json")


@router.get("/jobs", summary="List jobs, newest first")
async def list_jobs(
    genq: NodeDep,
    caller: CallerDep,
    status: Annotated[JobStatus | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    """A page of jobs; pass ``next_cursor`` back as ``cursor`` for the next page."""
    if cursor is not None and not is_uuid(cursor):
        raise InvalidRequest("cursor is not a value this API gave out", {"field": "cursor"})
    query = JobQuery(caller.scope, status, type, queue, cursor, limit + 1)
    jobs = await genq.jobs.list_jobs(query)
    page = jobs[:limit]
    next_cursor = page[-1].id if len(jobs) > limit else None
    return json_response(
        {"jobs": [j.to_dict() for j in page], "count": len(page), "next_cursor": next_cursor}
    )


@router.get("/jobs/{job_id}", summary="Get a job")
async def get_job(job_id: str, genq: NodeDep, caller: CallerDep) -> Response:
    """The job's current state, result or error."""
    job = await genq.jobs.get(job_id, caller.scope)
    return json_response(job.to_dict())


@router.post("/jobs/{job_id}/cancel", summary="Cancel a job")
async def cancel_job(
    job_id: str, genq: NodeDep, caller: CallerDep, body: CancelBody | None = None
) -> Response:
    """Cancel a waiting job (200), or ask a running one to stop (202); 409 once finished."""
    reason = body.reason if body else None
    job = await genq.jobs.cancel(job_id, reason, caller.scope)
    return json_response(job.to_dict(), 202 if job.status == JobStatus.RUNNING else 200)


@router.post("/jobs/{job_id}/retry", summary="Retry a failed or cancelled job")
async def retry_job(job_id: str, genq: NodeDep, caller: CallerDep) -> Response:
    """Queue the job for a new attempt; 409 unless it failed or was cancelled."""
    job = await genq.jobs.retry(job_id, caller.scope, caller.role)
    return json_response(job.to_dict())


@router.get("/job-types", summary="The job types this server knows")
async def job_types(genq: NodeDep, caller: CallerDep) -> Response:
    """Every registered job type, its queue, retry and timeout, and its params schema."""
    out = []
    for t in genq.registry:
        out.append(
            {
                "name": t.name,
                "queue": t.queue,
                "description": t.description,
                "max_attempts": t.max_attempts,
                "timeout_s": t.timeout_s,
                "params_schema": t.params_model.model_json_schema() if t.params_model else None,
            }
        )
    return json_response({"types": sorted(out, key=lambda t: t["name"])})
