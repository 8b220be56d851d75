"""Seed 000's external AI tasks service: ``POST /tasks``, then ``GET /tasks/{id}`` until done.

Polling waits grow exponentially with jitter up to a cap, and the whole wait has a
deadline; each poll is itself retried on network errors, 429 and 5xx (see
:mod:`genq.providers.http`). A task the service reports ``failed`` fails the job without
another attempt; one still unfinished at the deadline fails it with PROVIDER_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from genq.domain.errors import ProviderError, ProviderTimeout
from genq.providers.base import TaskProgress, TaskResult
from genq.providers.http import Outbound

NAME = "tasks"
RUNNING = {"pending", "processing", "queued", "running"}


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How a task is waited for."""

    initial_s: float = 1.0
    max_interval_s: float = 15.0
    deadline_s: float = 600.0
    factor: float = 2.0


def next_interval(previous: float, policy: PollPolicy, rng: random.Random | None = None) -> float:
    """The wait before the next poll: grown by the factor, capped, with ±20 % jitter."""
    base = min(previous * policy.factor, policy.max_interval_s)
    jitter = (rng or random).uniform(0.8, 1.2)
    return min(base * jitter, policy.max_interval_s)


class HttpTasks:
    """The tasks service over HTTP."""

    name = NAME

    def __init__(self, http: Outbound, poll: PollPolicy | None = None) -> None:
        self.http = http
        self.poll = poll or PollPolicy()

    async def start(self, body: dict[str, Any]) -> str:
        answer = await self.http.json("POST", "/tasks", body)
        task_id = answer.get("task_id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(f"{NAME}: POST /tasks answered without a task_id", retryable=False)
        return task_id

    async def wait(self, task_id: str, on_poll: TaskProgress | None = None) -> TaskResult:
        deadline = time.monotonic() + self.poll.deadline_s
        interval = self.poll.initial_s / self.poll.factor
        polls = 0
        while True:
            answer = await self.http.json("GET", f"/tasks/{quote(task_id, safe='')}")
            polls += 1
            if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
                raise ProviderError(f"{NAME}: task {task_id} answered without a status")
            status = answer["status"]
            if on_poll is not None:
                await on_poll(status, polls)
            if status == "completed":
                result = answer.get("result")
                if not isinstance(result, dict):
                    raise ProviderError(
                        f"{NAME}: task {task_id} completed without a result", retryable=False
                    )
                return TaskResult(task_id, result, NAME)
            if status == "failed":
                raise ProviderError(
                    f"{NAME}: task {task_id} failed: {answer.get('error') or 'no reason given'}",
                    retryable=False,
                    details={"task_id": task_id, "error": answer.get("error")},
                )
            if status not in RUNNING:
                raise ProviderError(
                    f"{NAME}: task {task_id} has an unknown status {status!r}", retryable=False
                )
            interval = next_interval(interval, self.poll)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProviderTimeout(
                    f"{NAME}: task {task_id} did not finish within {self.poll.deadline_s:g}s",
                    details={"task_id": task_id, "polls": polls, "last_status": status},
                )
            await asyncio.sleep(min(interval, left))
