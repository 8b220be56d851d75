"""Request-scoped dependencies: the node's services, the caller, and rate limits.

The caller is resolved once per request and kept in the ASGI scope's state, with where it
stands against its rate limits (the ``RateLimitHeaders`` middleware turns that into
``X-RateLimit-*`` headers on the response, whatever the response is).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from genq.domain.auth import Principal, Role, Via
from genq.domain.errors import Forbidden
from genq.domain.job import LOCAL_OWNER
from genq.node import Node
from genq.service.limits import LimitState

# Everyone, when no auth is configured (only allowed on a loopback address).
LOCAL_ADMIN = Principal(LOCAL_OWNER, Role.ADMIN, Via.LOCAL)
ALL_JOBS = "*"  # the stream of every job the caller may see (service.auth.ALL_JOBS)

_PRINCIPAL = "genq.principal"
RATE_LIMIT = "genq.rate_limit"

# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, a
# thread hand-off on every request.


async def node(request: Request) -> Node:
    """The genq node serving this app."""
    value: Node = request.app.state.node
    return value


def _state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


async def _resolve(request: Request, stream_job: str | None) -> Principal:
    state = _state(request)
    found: Principal | None = state.get(_PRINCIPAL)
    if found is not None:
        return found
    genq: Node = request.app.state.node
    if genq.auth is None:
        caller = LOCAL_ADMIN
    else:
        token = request.query_params.get("token") if stream_job is not None else None
        caller = await genq.auth.authenticate(request.headers, request.cookies, token, stream_job)
    state[_PRINCIPAL] = caller
    await spend(request, caller, "api")
    return caller


async def principal(request: Request) -> Principal:
    """The caller, authenticated (401 without valid credentials) and counted."""
    return await _resolve(request, None)


async def job_stream_caller(request: Request, job_id: str) -> Principal:
    """The caller of one job's SSE stream, who may also come with a stream token."""
    return await _resolve(request, job_id)


async def all_stream_caller(request: Request) -> Principal:
    """The caller of the all-jobs SSE stream, who may also come with a stream token."""
    return await _resolve(request, ALL_JOBS)


async def worker_caller(request: Request) -> Principal:
    """The caller of the remote-worker protocol: a worker (or an admin) credential."""
    genq: Node = request.app.state.node
    if genq.auth is None:
        return LOCAL_ADMIN
    return await genq.auth.authenticate(
        request.headers, request.cookies, None, None, worker_protocol=True
    )


async def admin(request: Request) -> Principal:
    """The caller, who must be an admin (403 otherwise)."""
    caller = await principal(request)
    if not caller.admin:
        raise Forbidden("this needs an admin")
    return caller


async def spend(request: Request, caller: Principal, group: str, cost: int = 1) -> None:
    """Count a request against ``group``'s limit; 429 when over it.

    The response reports the tightest limit the request was counted against.
    """
    limiter = request.app.state.node.limiter
    if limiter is None:
        return
    status = await limiter.hit(caller, group, cost)
    if status is None:
        return
    state = _state(request)
    before: LimitState | None = state.get(RATE_LIMIT)
    if before is None or status.remaining < before.remaining:
        state[RATE_LIMIT] = status
