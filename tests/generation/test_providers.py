"""Providers against fake services over real HTTP: answers, retries and failure codes."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from genq.domain.errors import ProviderError, ProviderRateLimited, ProviderTimeout
from genq.providers import Providers, make_providers
from genq.providers.base import ChatRequest, ImageRequest
from genq.providers.http import retry_after_s
from genq.settings import Settings
from tests.generation.conftest import FAST
from tests.generation.fakes import FakeOpenAI, FakeTasks


def providers(**overrides: Any) -> Providers:
    values = {**FAST, **overrides}
    return make_providers(Settings(_env_file=None, **values))  # type: ignore[call-arg]


@pytest.fixture
async def openai(fake_openai: FakeOpenAI) -> Any:
    made = providers(
        provider="openai",
        openai_base_url=f"{fake_openai.base_url}/v1",
        openai_api_key="sk-test-secret",
        openai_image_response_format="",
    )
    yield made
    await made.close()


async def test_images_answered_by_url_and_by_b64(
    fake_openai: FakeOpenAI, openai: Providers
) -> None:
    made = await openai.images.generate(ImageRequest("a red fox in snow", quality="hd"))
    assert made.url == f"{fake_openai.base_url}/cdn/image.png"
    assert made.data is None
    assert made.revised_prompt == "a red fox in snow, revised"
    sent = fake_openai.calls_to("/v1/images/generations")[0]
    assert sent.headers["authorization"] == "Bearer sk-test-secret"
    assert sent.body["quality"] == "hd"
    assert "response_format" not in sent.body
    data, kind = await openai.download(made.url)
    assert data.startswith(b"\x89PNG")
    assert kind == "image/png"
    # Downloads never carry the API key (results live on other hosts).
    assert "authorization" not in fake_openai.calls_to("/cdn/image.png")[0].headers

    fake_openai.answer = "b64_json"
    made = await openai.images.generate(ImageRequest("a red fox in snow"))
    assert made.url is None
    assert made.data is not None
    assert made.data.startswith(b"\x89PNG")


async def test_429_with_retry_after_then_success(
    fake_openai: FakeOpenAI, openai: Providers
) -> None:
    fake_openai.images.steps = ["429", "500"]
    made = await openai.images.generate(ImageRequest("a red fox in snow"))
    assert made.url is not None
    assert len(fake_openai.calls_to("/v1/images/generations")) == 3


@pytest.mark.parametrize(
    ("steps", "error", "code", "calls"),
    [
        (["429"] * 3, ProviderRateLimited, "PROVIDER_RATE_LIMITED", 3),
        (["500"] * 3, ProviderError, "PROVIDER_ERROR", 3),
        (["timeout"] * 3, ProviderTimeout, "PROVIDER_TIMEOUT", 3),
        (["malformed"], ProviderError, "PROVIDER_ERROR", 1),  # not retried
        (["400"], ProviderError, "PROVIDER_ERROR", 1),  # a 4xx is not retried
    ],
)
async def test_failures_after_the_retry_policy(
    fake_openai: FakeOpenAI,
    openai: Providers,
    steps: list[str],
    error: type[ProviderError],
    code: str,
    calls: int,
) -> None:
    fake_openai.chat.steps = list(steps)
    with pytest.raises(error) as raised:
        await openai.chat.complete(ChatRequest([{"role": "user", "content": "hi"}]))
    assert raised.value.code == code
    assert len(fake_openai.calls_to("/v1/chat/completions")) == calls


async def test_chat_whole_and_streamed(fake_openai: FakeOpenAI, openai: Providers) -> None:
    request = ChatRequest([{"role": "user", "content": "hi"}], max_tokens=50, json_output=True)
    whole = await openai.chat.complete(request)
    assert whole.text == fake_openai.chat_text
    assert whole.provider == "openai"
    sent = fake_openai.calls_to("/v1/chat/completions")[0].body
    assert sent["max_tokens"] == 50
    assert sent["response_format"] == {"type": "json_object"}
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    fake_openai.chat.steps = ["500"]  # retried before the stream starts
    streamed = await openai.chat.stream(request, on_text)
    assert len(pieces) > 3
    assert "".join(pieces) == streamed.text
    assert streamed.text.strip() == fake_openai.chat_text


async def test_tasks_polled_with_backoff_until_done(fake_tasks: tuple[FakeTasks, str]) -> None:
    fake, url = fake_tasks
    fake.polls_to_finish = 4
    fake.poll_script.steps = ["ok", "429", "500"]  # each poll is retried on its own
    made = providers(tasks_url=url)
    seen: list[str] = []

    async def on_poll(status: str, polls: int) -> None:
        seen.append(status)

    task_id = await made.tasks.start({"ad_archive_id": "1", "image_url": "http://x/a.png"})
    done = await made.tasks.wait(task_id, on_poll)
    assert done.result["concept_json"]["task"] == task_id
    assert seen == ["pending", "processing", "processing", "completed"]
    await made.close()


@pytest.mark.parametrize(
    ("outcome", "code", "retryable"),
    [("failed", "PROVIDER_ERROR", False), ("never", "PROVIDER_TIMEOUT", True)],
)
async def test_tasks_that_fail_or_never_finish(
    fake_tasks: tuple[FakeTasks, str], outcome: str, code: str, retryable: bool
) -> None:
    fake, url = fake_tasks
    fake.outcome = outcome
    made = providers(tasks_url=url, tasks_deadline_s=0.3)
    task_id = await made.tasks.start({"ad_archive_id": "1", "image_url": "http://x/a.png"})
    with pytest.raises(ProviderError) as raised:
        await made.tasks.wait(task_id)
    assert raised.value.code == code
    assert raised.value.retryable is retryable
    await made.close()


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None


def test_demo_is_the_default_and_openai_needs_a_key_or_asking() -> None:
    assert providers().images.name == "demo"
    assert providers(openai_api_key="k").images.name == "openai"
    assert providers(provider="openai").chat.name == "openai"
    assert providers(provider="demo", openai_api_key="k").chat.name == "demo"


async def test_calls_are_logged_with_status_and_duration_never_the_key(
    fake_openai: FakeOpenAI, openai: Providers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genq.providers")
    fake_openai.chat.steps = ["429"]
    await openai.chat.complete(ChatRequest([{"role": "user", "content": "hi"}]))
    lines = [r.getMessage() for r in caplog.records if r.name == "genq.providers"]
    assert any("POST /chat/completions -> 429 in" in line for line in lines)
    assert any("POST /chat/completions -> 200 in" in line for line in lines)
    assert all(line.endswith(" ms") for line in lines)
    assert "sk-test-secret" not in caplog.text


async def test_downloads_over_the_size_limit_are_refused(
    fake_openai: FakeOpenAI, openai: Providers
) -> None:
    fake_openai.image_body = b"\x89PNG" + b"0" * 2048
    openai.max_download_bytes = 1024
    with pytest.raises(ProviderError) as raised:
        await openai.download(f"{fake_openai.base_url}/cdn/big.png")
    assert raised.value.retryable is False
    assert raised.value.details == {"size": 2052, "limit": 1024}
