"""``/files/...``: the local blob store's files, with the content type they were stored with.

Like a public bucket's URLs: whoever has a file's URL can fetch it (the job id in the path
is a UUIDv7 with 74 random bits). Put genq behind S3 or a CDN to serve files elsewhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from genq.api.deps import node
from genq.domain.errors import NotFound
from genq.node import Node

router = APIRouter(tags=["files"])


@router.get("/files/{key:path}", summary="A generated file")
async def get_file(key: str, genq: Annotated[Node, Depends(node)]) -> Response:
    """The file's bytes; 404 when there is no such file."""
    found = await genq.blobs.get(key)  # every blob store checks its keys (400 if unsafe)
    if found is None:
        raise NotFound("no such file")
    data, content_type = found
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
