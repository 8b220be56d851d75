"""Blobs in S3-compatible storage (AWS S3, MinIO, Supabase Storage, R2) by endpoint URL.

boto3 is blocking, so each call runs in a thread. URLs are ``{s3_public_url}/{key}`` when
the bucket (or a CDN in front of it) is public, else presigned GET URLs valid for
``s3_url_ttl_s`` (S3 allows at most seven days).
"""

from __future__ import annotations

import asyncio
from typing import Any

from genq.blobs.base import StoredBlob, check_key


class S3Blobs:
    """Objects under ``prefix`` in one bucket."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        public_url: str | None = None,
        url_ttl_s: int = 604_800,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "S3 blob storage needs boto3: install genq with the s3 extra (genq[s3])"
            ) from None
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.public_url = public_url.rstrip("/") if public_url else None
        self.url_ttl_s = url_ttl_s
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 4, "mode": "standard"},
            ),
        )

    def _object(self, key: str) -> str:
        return self.prefix + check_key(key)

    def url(self, key: str) -> str:
        name = self._object(key)
        if self.public_url is not None:
            return f"{self.public_url}/{name}"
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=self.url_ttl_s
        )
        return url

    async def put(self, key: str, data: bytes, content_type: str) -> StoredBlob:
        name = self._object(key)
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentType=content_type,
        )
        return StoredBlob(key, self.url(key), len(data), content_type)

    async def get(self, key: str) -> tuple[bytes, str] | None:
        name = self._object(key)

        def fetch() -> tuple[bytes, str] | None:
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=name)
            except self._client.exceptions.NoSuchKey:
                return None
            body: bytes = answer["Body"].read()
            return body, str(answer.get("ContentType") or "application/octet-stream")

        return await asyncio.to_thread(fetch)

    async def delete_prefix(self, prefix: str) -> int:
        start = self._object(prefix.rstrip("/")) + "/"

        def remove() -> int:
            removed = 0
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=start):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    removed += len(keys)
            return removed

        return await asyncio.to_thread(remove)

    async def close(self) -> None:
        self._client.close()
