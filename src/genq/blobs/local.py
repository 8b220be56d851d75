"""Blobs in a local folder, served by genq itself under ``/files/``."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import shutil
import tempfile
from pathlib import Path

from genq.blobs.base import StoredBlob, check_key

# The content type of each file is kept next to it, so that what is served is what was put.
_TYPE_SUFFIX = ".content-type"


class LocalBlobs:
    """Files under ``root``; URLs are ``{base_url}/files/{key}``."""

    name = "local"

    def __init__(self, root: str | Path, base_url: str = "") -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url.rstrip("/")

    def path(self, key: str) -> Path:
        """The file of ``key`` (which is checked, so it cannot leave the root)."""
        return self.root / check_key(key)

    def url(self, key: str) -> str:
        return f"{self.base_url}/files/{check_key(key)}"

    async def put(self, key: str, data: bytes, content_type: str) -> StoredBlob:
        path = self.path(key)
        await asyncio.to_thread(_write_atomically, path, data, content_type)
        return StoredBlob(key, self.url(key), len(data), content_type)

    async def get(self, key: str) -> tuple[bytes, str] | None:
        path = self.path(key)
        return await asyncio.to_thread(_read, path)

    async def delete_prefix(self, prefix: str) -> int:
        folder = self.path(prefix.rstrip("/"))
        return await asyncio.to_thread(_remove_tree, folder)

    async def close(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes, content_type: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, body in ((path, data), (_type_file(path), content_type.encode())):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _type_file(path: Path) -> Path:
    return path.with_name(path.name + _TYPE_SUFFIX)


def _read(path: Path) -> tuple[bytes, str] | None:
    if path.name.endswith(_TYPE_SUFFIX) or not path.is_file():
        return None
    try:
        kind = _type_file(path).read_text().strip()
    except OSError:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.read_bytes(), kind


def _remove_tree(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.endswith(_TYPE_SUFFIX))
    shutil.rmtree(folder, ignore_errors=True)
    return count
