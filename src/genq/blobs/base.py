"""Where generated files go: a key (``jobs/{job_id}/{name}``) in, a URL out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from genq.domain.errors import InvalidRequest

# Keys are relative paths of plain segments: no "..", no leading slash, no backslash.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A file put in the blob store."""

    key: str
    url: str
    size: int
    content_type: str


def check_key(key: str) -> str:
    """``key`` if it is a safe relative path of plain segments, else a 400."""
    parts = key.split("/")
    if not parts or not all(_SEGMENT.match(p) for p in parts):
        raise InvalidRequest(f"not a valid file key: {key!r}")
    return key


def job_prefix(job_id: str) -> str:
    """The folder of one job's files."""
    return f"jobs/{check_key(job_id)}/"


class BlobStore(Protocol):
    """Stores bytes under keys and says where clients can fetch them."""

    name: str

    async def put(self, key: str, data: bytes, content_type: str) -> StoredBlob: ...

    async def get(self, key: str) -> tuple[bytes, str] | None: ...

    async def delete_prefix(self, prefix: str) -> int: ...

    def url(self, key: str) -> str: ...

    async def close(self) -> None: ...
