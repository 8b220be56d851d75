"""Each pipeline end to end through the HTTP API: submit, watch the SSE stream to its end,
check the stored result and the files (their real pixel sizes)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image

from genq.pipelines.imaging import PLATFORMS
from tests.api.test_sse import collect
from tests.conftest import RunningServer, ServerFactory
from tests.generation.conftest import FAST
from tests.generation.fakes import FakeOpenAI, FakeTasks

PROMPT = "A beautiful sunset over mountains"


async def run(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Submit a job, read its stream to the terminal event; the stored job and the events."""
    created = await client.post("/v1/jobs", json=body)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    messages = await collect(client, f"/v1/jobs/{job_id}/events")
    job = (await client.get(f"/v1/jobs/{job_id}")).json()
    return job, messages


def payloads(messages: list[Any], event: str) -> list[dict[str, Any]]:
    return [orjson.loads(m.data)["data"] for m in messages if m.event == event]


async def openai_server(start_server: ServerFactory, fake: FakeOpenAI, **kw: Any) -> RunningServer:
    return await start_server(
        provider="openai",
        openai_base_url=f"{fake.base_url}/v1",
        openai_api_key="sk-test",
        **{**FAST, **kw},
    )


@pytest.mark.parametrize("answer", ["url", "b64_json"])
async def test_image_pipeline_makes_every_platform_size(
    start_server: ServerFactory, fake_openai: FakeOpenAI, answer: str
) -> None:
    fake_openai.answer = answer
    server = await openai_server(start_server, fake_openai)
    platforms = list(PLATFORMS)
    async with server.client() as client:
        job, messages = await run(
            client,
            {
                "type": "image",
                "params": {"prompt": PROMPT, "platforms": platforms, "options": {"quality": "hd"}},
            },
        )
        assert job["status"] == "completed", job["error"]
        result = job["result"]
        assert result["generationId"] == job["id"]
        assert result["revisedPrompt"] == f"{PROMPT}, revised"
        assert [i["platform"] for i in result["images"]] == platforms
        for image in result["images"]:
            platform = PLATFORMS[image["platform"]]
            got = await client.get(image["url"])
            assert got.status_code == 200
            assert got.headers["content-type"] == "image/jpeg"
            assert len(got.content) == image["size"]
            with Image.open(io.BytesIO(got.content)) as img:
                assert img.size == (platform.width, platform.height)
        original = await client.get(result["original"]["url"])
        assert original.headers["content-type"] == "image/png"
    # Progress in seed 001's bands, never going back; a log line at each stage.
    progress = [p["progress"] for p in payloads(messages, "step_progress")]
    assert progress == sorted(progress)
    assert progress[-1] == 100
    assert any(10 <= p <= 30 for p in progress)
    assert any(50 < p < 100 for p in progress)
    logs = [p["message"] for p in payloads(messages, "log")]
    assert "Image generated successfully" in logs
    assert "Processing Twitter Post..." in logs
    steps = [p["step"] for p in payloads(messages, "step_started")]
    assert steps == ["generate", "download", "save", "platforms"]


async def test_demo_provider_draws_real_images_offline(start_server: ServerFactory) -> None:
    server = await start_server(**FAST)
    async with server.client() as client:
        job, _ = await run(
            client,
            {"type": "image", "params": {"prompt": PROMPT, "platforms": ["youtube-thumbnail"]}},
        )
        assert job["status"] == "completed", job["error"]
        assert job["result"]["provider"] == "demo"
        got = await client.get(job["result"]["images"][0]["url"])
        with Image.open(io.BytesIO(got.content)) as img:
            assert img.size == (1280, 720)
            colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is not None
            assert len(colours) > 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"prompt": "too short", "platforms": ["instagram-post"]}, "params.prompt"),
        ({"prompt": PROMPT, "platforms": ["tiktok-post"]}, "params.platforms"),
        ({"prompt": PROMPT, "platforms": []}, "params.platforms"),
        ({"prompt": PROMPT, "platforms": ["instagram-post"], "options": {"size": "9x9"}}, None),
    ],
)
async def test_bad_image_params_are_400_and_create_nothing(
    start_server: ServerFactory, params: dict[str, Any], field: str | None
) -> None:
    server = await start_server(run_workers=False)
    async with server.client() as client:
        answer = await client.post("/v1/jobs", json={"type": "image", "params": params})
        assert answer.status_code == 400
        body = answer.json()
        assert body["code"] == "INVALID_REQUEST"
        if field is not None:
            assert field in [f["field"] for f in body["details"]["fields"]]
        if "tiktok-post" in str(params):
            assert "instagram-post" in orjson.dumps(body).decode()  # names the valid ones
        assert (await client.get("/v1/jobs")).json()["jobs"] == []


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        (["429"] * 3, "PROVIDER_RATE_LIMITED"),
        (["500"] * 3, "PROVIDER_ERROR"),
        (["timeout"] * 3, "PROVIDER_TIMEOUT"),
        (["malformed"], "PROVIDER_ERROR"),
    ],
)
async def test_provider_failures_end_in_a_failed_job_with_a_clear_code(
    start_server: ServerFactory, fake_openai: FakeOpenAI, steps: list[str], code: str
) -> None:
    fake_openai.images.steps = list(steps)
    server = await openai_server(start_server, fake_openai)
    async with server.client() as client:
        job, messages = await run(
            client,
            {
                "type": "image",
                "params": {"prompt": PROMPT, "platforms": ["instagram-post"]},
                "max_attempts": 1,
            },
        )
    assert job["status"] == "failed"
    assert job["error"]["code"] == code
    assert messages[-1].event == "job_failed"


async def test_downloads_are_checked_for_type(
    start_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.image_type = "text/html"
    server = await openai_server(start_server, fake_openai)
    async with server.client() as client:
        job, _ = await run(
            client,
            {"type": "image", "params": {"prompt": PROMPT, "platforms": ["instagram-post"]}},
        )
    assert job["status"] == "failed"
    assert job["attempts"] == 1
    assert "text/html" in job["error"]["message"]


async def test_concept_pipeline_through_the_tasks_service(
    start_server: ServerFactory, fake_tasks: tuple[FakeTasks, str]
) -> None:
    fake, url = fake_tasks
    fake.polls_to_finish = 3
    server = await start_server(tasks_url=url, **FAST)
    async with server.client() as client:
        job, messages = await run(
            client,
            {
                "type": "concept",
                "params": {"ad_archive_id": "ad-42", "image_url": "https://cdn.example/ad.png"},
            },
        )
    assert job["status"] == "completed", job["error"]
    assert job["result"]["concept_json"] == {"headline": "Fresh take", "task": "task-1"}
    assert fake.calls[0].body == {
        "ad_archive_id": "ad-42",
        "image_url": "https://cdn.example/ad.png",
    }
    statuses = [p.get("data", {}).get("status") for p in payloads(messages, "step_progress")]
    assert {"pending", "processing"} <= set(statuses)


async def test_concept_task_that_never_finishes_fails_with_provider_timeout(
    start_server: ServerFactory, fake_tasks: tuple[FakeTasks, str]
) -> None:
    fake, url = fake_tasks
    fake.outcome = "never"
    server = await start_server(tasks_url=url, **{**FAST, "tasks_deadline_s": 0.3})
    async with server.client() as client:
        job, _ = await run(
            client,
            {
                "type": "concept",
                "params": {"ad_archive_id": "ad-1", "image_url": "https://cdn.example/a.png"},
                "max_attempts": 1,
            },
        )
    assert job["status"] == "failed"
    assert job["error"]["code"] == "PROVIDER_TIMEOUT"


async def test_prompt_enhance_as_a_job_and_at_once(
    start_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_text = '"' + " ".join(["luminous"] * 120) + '"'  # too long for SDXL
    server = await openai_server(start_server, fake_openai)
    body = {"prompt": "a cat on a sofa", "job_type": "sdxl_image_fast"}
    async with server.client() as client:
        job, _ = await run(client, {"type": "prompt.enhance", "params": body})
        assert job["status"] == "completed", job["error"]
        now = await client.post("/v1/prompts/enhance", json=body)
        assert now.status_code == 200
        video = await client.post(
            "/v1/prompts/enhance", json={"prompt": "a cat", "job_type": "video_high"}
        )
        bad = await client.post("/v1/prompts/enhance", json={"prompt": "x", "job_type": "nope"})
        fake_openai.chat.steps = ["500"] * 3
        failing = await client.post("/v1/prompts/enhance", json=body)
    for result in (job["result"], now.json()):
        meta = result["enhancement_metadata"]
        assert result["original_prompt"] == "a cat on a sofa"
        assert meta["token_budget"] == 75
        assert meta["token_count"] <= 75
        assert meta["compression_applied"] is True
        assert meta["is_sdxl"] is True
        assert not result["enhanced_prompt"].startswith('"')
    assert video.json()["enhancement_metadata"]["token_budget"] == 250
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_REQUEST"
    assert failing.status_code == 502
    assert failing.json()["code"] == "PROVIDER_ERROR"


async def test_prefer_wait_returns_the_finished_job(start_server: ServerFactory) -> None:
    server = await start_server(**FAST, shutdown_grace_s=0.1)
    async with server.client() as client:
        quick = await client.post(
            "/v1/jobs",
            json={"type": "demo.steps", "params": {"steps": 2, "step_ms": 20}},
            headers={"Prefer": "wait=10"},
        )
        slow = await client.post(
            "/v1/jobs",
            json={"type": "demo.steps", "params": {"steps": 2, "step_ms": 5000}},
            headers={"Prefer": "wait=1"},
        )
    assert quick.status_code == 201
    assert quick.json()["status"] == "completed"
    assert quick.headers["preference-applied"] == "wait=10"
    assert slow.status_code == 201
    assert slow.json()["status"] in ("queued", "running")


async def test_cleaning_a_job_removes_its_files(start_server: ServerFactory) -> None:
    server = await start_server(**FAST)
    async with server.client() as client:
        job, _ = await run(
            client,
            {"type": "image", "params": {"prompt": PROMPT, "platforms": ["instagram-post"]}},
        )
        url = job["result"]["images"][0]["url"]
        assert (await client.get(url)).status_code == 200
        cleaned = await client.post("/v1/queues/clean", json={"grace_s": 0, "status": "completed"})
        assert cleaned.status_code == 200, cleaned.text
        assert (await client.get(url)).status_code == 404
        assert (await client.get("/files/jobs/../secret")).status_code in (400, 404)
