"""``/v1/billing``: a user's credit balance and ledger, and admins' grants (seed 002)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from genq.api.deps import admin, node, principal
from genq.api.routes.jobs import json_response
from genq.api.schemas import GrantCreate
from genq.domain.auth import Principal
from genq.domain.errors import Forbidden
from genq.node import Node

router = APIRouter(prefix="/v1/billing", tags=["billing"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
AdminDep = Annotated[Principal, Depends(admin)]
UserQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="another user's (admins and services)"),
]


def _whose(caller: Principal, user_id: str | None) -> str:
    if user_id is None or user_id == caller.user_id:
        return caller.user_id
    if not caller.privileged:
        raise Forbidden("only admins and services may read another user's credits")
    return user_id


@router.get("/balance", summary="Credit balance")
async def balance(genq: NodeDep, caller: CallerDep, user_id: UserQuery = None) -> Response:
    """The caller's credits (derived from their ledger), and what each job type costs."""
    whose = _whose(caller, user_id)
    return json_response(
        {
            "user_id": whose,
            "balance": await genq.credits.balance(whose),
            "credits_enabled": genq.credits.enabled,
            "costs": genq.credits.costs,
        }
    )


@router.get("/usage", summary="Credit ledger, newest first")
async def usage(
    genq: NodeDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    user_id: UserQuery = None,
) -> Response:
    """Grants, purchases, consumptions and refunds, each with the balance after it."""
    whose = _whose(caller, user_id)
    entries, total = await genq.credits.usage(whose, limit, offset)
    return json_response(
        {
            "user_id": whose,
            "entries": [e.to_dict() for e in entries],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@router.post("/grants", status_code=201, summary="Grant credits (admin)")
async def grant(body: GrantCreate, genq: NodeDep, caller: AdminDep) -> Response:
    """Add credits to a user's ledger; answers the entry and the new balance."""
    entry = await genq.credits.grant(body.user_id, body.amount, body.kind, body.note)
    return json_response(
        {"user_id": body.user_id, "entry": entry.to_dict(), "balance": entry.balance_after}, 201
    )
