"""``POST /v1/prompts/enhance``: seed 004's prompt enhancement, answered at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from genq.api.deps import node, principal, spend
from genq.api.routes.jobs import json_response
from genq.domain.auth import Principal
from genq.domain.errors import ProviderError, upstream
from genq.node import Node
from genq.pipelines.prompts import EnhanceParams, enhance

router = APIRouter(prefix="/v1", tags=["generation"])


@router.post("/prompts/enhance", summary="Enhance a prompt now")
async def enhance_prompt(
    body: EnhanceParams,
    request: Request,
    genq: Annotated[Node, Depends(node)],
    caller: Annotated[Principal, Depends(principal)],
) -> Response:
    """Rewrite a prompt for an image or video model within its token budget (the
    ``prompt.enhance`` job type does the same in the background)."""
    await spend(request, caller, "jobs")
    try:
        return json_response(await enhance(genq.providers.chat, body))
    except ProviderError as exc:
        raise upstream(exc) from None
