"""The S3 blob store against a real S3-compatible server on loopback (moto's server mode)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from tests.api.test_sse import collect
from tests.conftest import ServerFactory, free_port
from tests.generation.conftest import FAST

BUCKET = "genq-test"
KEYS = {"s3_access_key_id": "test-key", "s3_secret_access_key": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def objects(endpoint: str) -> list[str]:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test-key", aws_secret_access_key="test-secret",
    )  # fmt: skip
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


async def test_image_job_stores_its_files_in_s3(
    start_server: ServerFactory, s3_endpoint: str
) -> None:
    settings: dict[str, Any] = {
        "blob_store": "s3",
        "s3_bucket": BUCKET,
        "s3_endpoint_url": s3_endpoint,
        "s3_prefix": "genq",
        **KEYS,
        **FAST,
    }
    server = await start_server(**settings)
    async with server.client() as client:
        created = await client.post(
            "/v1/jobs",
            json={
                "type": "image",
                "params": {
                    "prompt": "A red kite over green hills",
                    "platforms": ["twitter-post", "instagram-story"],
                },
            },
        )
        job_id = created.json()["id"]
        await collect(client, f"/v1/jobs/{job_id}/events")
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        assert job["status"] == "completed", job["error"]
        stored = objects(s3_endpoint)
        assert f"genq/jobs/{job_id}/twitter-post.jpg" in stored
        assert f"genq/jobs/{job_id}/original.png" in stored
        async with httpx.AsyncClient() as outside:  # presigned URLs, straight from "S3"
            for image in job["result"]["images"]:
                got = await outside.get(image["url"])
                assert got.status_code == 200
                with Image.open(io.BytesIO(got.content)) as img:
                    assert img.size == (image["width"], image["height"])
        # genq serves the same object under /files too.
        proxied = await client.get(f"/files/jobs/{job_id}/twitter-post.jpg")
        assert proxied.status_code == 200
        assert proxied.headers["content-type"] == "image/jpeg"
        cleaned = await client.post("/v1/queues/clean", json={"grace_s": 0, "status": "completed"})
        assert cleaned.json()["deleted"] == 1
    assert not [k for k in objects(s3_endpoint) if job_id in k]


def test_s3_without_a_bucket_is_refused() -> None:
    from pydantic import ValidationError

    from genq.settings import Settings

    with pytest.raises(ValidationError, match="s3_bucket"):
        Settings(_env_file=None, blob_store="s3")  # type: ignore[call-arg]
