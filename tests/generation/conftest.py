"""Fixtures: the fake AI services on loopback, and providers pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import serve_app
from tests.generation.fakes import FakeOpenAI, FakeTasks

# Provider settings that keep tests quick: short timeouts, tiny backoffs.
FAST = {
    "provider_timeout_s": 0.5,
    "provider_connect_timeout_s": 0.5,
    "provider_attempts": 3,
    "provider_retry_initial_s": 0.01,
    "provider_retry_max_s": 0.05,
    "tasks_poll_initial_s": 0.02,
    "tasks_poll_max_s": 0.05,
    "tasks_deadline_s": 5.0,
}


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    async with serve_app(fake.app) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
async def fake_tasks() -> AsyncIterator[tuple[FakeTasks, str]]:
    fake = FakeTasks()
    async with serve_app(fake.app) as url:
        yield fake, url
