"""Blob storage for generated files: a local folder by default."""

from __future__ import annotations

from genq.blobs.base import BlobStore, StoredBlob, check_key, job_prefix
from genq.blobs.local import LocalBlobs
from genq.settings import Settings


def make_blobs(settings: Settings) -> BlobStore:
    """The blob store the settings ask for."""
    return LocalBlobs(settings.blob_dir, settings.public_url or "")


__all__ = ["BlobStore", "LocalBlobs", "StoredBlob", "check_key", "job_prefix", "make_blobs"]
