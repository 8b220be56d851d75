"""``/v1/me``, stream tokens, and (for admins) API keys."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from genq.api.deps import admin, node, principal
from genq.api.routes.jobs import json_response
from genq.api.schemas import KeyCreate, StreamTokenCreate
from genq.domain.auth import Principal
from genq.node import Node

router = APIRouter(prefix="/v1", tags=["auth"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
AdminDep = Annotated[Principal, Depends(admin)]


@router.get("/me", summary="Who the caller is")
async def me(genq: NodeDep, caller: CallerDep) -> Response:
    """The caller's user id, role, and how they authenticated."""
    return json_response(
        {
            "user_id": caller.user_id,
            "role": caller.role.value,
            "via": caller.via.value,
            "sees_all_jobs": caller.privileged,
            "auth_enabled": genq.auth is not None,
        }
    )


@router.post("/auth/stream-token", status_code=201, summary="A token for an EventSource")
async def stream_token(body: StreamTokenCreate, genq: NodeDep, caller: CallerDep) -> Response:
    """A short-lived token to pass as ``?token=`` to one job's event stream (or, without a
    job, to ``/v1/events``): browsers' EventSource cannot send an Authorization header."""
    from genq.service.auth import issue_stream_token

    if body.job_id is not None:
        await genq.jobs.get(body.job_id, caller.scope)  # 404 unless the caller may see it
    token, expires = issue_stream_token(
        await genq.stream_secret(), caller, body.job_id, genq.settings.stream_token_ttl_s
    )
    path = f"/v1/jobs/{body.job_id}/events" if body.job_id else "/v1/events"
    return json_response(
        {
            "token": token,
            "expires_at": expires,
            "expires_in": max(0, int(expires - time.time())),
            "stream_url": f"{path}?token={token}",
        },
        201,
    )


@router.get("/keys", summary="List API keys (admin)")
async def list_keys(genq: NodeDep, caller: AdminDep) -> Response:
    """Every key with its prefix, role, user and last use; never the key itself."""
    keys = await genq.store.list_api_keys()
    return json_response({"keys": [k.to_dict() for k in keys], "count": len(keys)})


@router.post("/keys", status_code=201, summary="Create an API key (admin)")
async def create_key(body: KeyCreate, genq: NodeDep, caller: AdminDep) -> Response:
    """The new key, shown in this answer only: store it now."""
    key, record = await genq.keys.create(body.name, body.role, body.user_id)
    return json_response({**record.to_dict(), "key": key}, 201)


@router.delete("/keys/{key_id}", summary="Revoke an API key (admin)")
async def revoke_key(key_id: str, genq: NodeDep, caller: AdminDep) -> Response:
    """Revoke a key; it stops working at once here and within seconds on other nodes."""
    record = await genq.keys.revoke(key_id)
    return json_response(record.to_dict())
