"""Blob storage for generated files: a local folder by default."""

from __future__ import annotations

from genq.blobs.base import BlobStore, StoredBlob, check_key, job_prefix
from genq.blobs.local import LocalBlobs
from genq.settings import Settings


def make_blobs(settings: Settings) -> BlobStore:
    """The blob store the settings ask for."""
    if settings.blob_store == "s3":
        from genq.blobs.s3 import S3Blobs

        assert settings.s3_bucket is not None  # checked by Settings
        secret = settings.s3_secret_access_key
        return S3Blobs(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
            public_url=settings.s3_public_url,
            url_ttl_s=settings.s3_url_ttl_s,
        )
    return LocalBlobs(settings.blob_dir, settings.public_url or "")


__all__ = ["BlobStore", "LocalBlobs", "StoredBlob", "check_key", "job_prefix", "make_blobs"]
