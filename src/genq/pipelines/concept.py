"""``concept`` (seed 000): an ad concept from the external AI tasks service.

The job starts a task (``POST /tasks``), then polls it with backoff until it completes,
reporting each status it sees as progress, and returns the task's ``concept_json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from genq.domain.errors import ProviderError
from genq.worker.context import JobContext
from genq.worker.registry import Registry

# Progress shown for each status the service reports.
STATUS_PROGRESS = {"pending": 15, "queued": 15, "processing": 50, "running": 50, "completed": 95}


class ConceptParams(BaseModel):
    """Parameters of ``concept``."""

    model_config = ConfigDict(extra="forbid")

    ad_archive_id: str = Field(min_length=1, max_length=200, description="the ad's archive id")
    image_url: HttpUrl = Field(description="the ad's image")


async def make_concept(ctx: JobContext, params: ConceptParams) -> dict[str, Any]:
    """Ask the tasks service for an ad concept and wait for it."""
    tasks = ctx.providers.tasks
    ctx.total_steps = 2
    body = {"ad_archive_id": params.ad_archive_id, "image_url": str(params.image_url)}
    async with ctx.step("submit", "Sending the ad to the AI service"):
        task_id = await tasks.start(body)
        await ctx.log(f"Task {task_id} started with the {tasks.name} service")
        await ctx.progress(10, "pending", {"task_id": task_id, "status": "pending"})

    seen: list[str] = []

    async def on_poll(status: str, polls: int) -> None:
        if not seen or seen[-1] != status:
            seen.append(status)
            await ctx.log(f"Task {task_id}: {status}")
        pct = STATUS_PROGRESS.get(status, 50)
        await ctx.progress(pct, status, {"task_id": task_id, "status": status, "polls": polls})

    async with ctx.step("generate", "Waiting for the concept"):
        done = await tasks.wait(task_id, on_poll)
    concept = done.result.get("concept_json")
    if not isinstance(concept, dict):
        raise ProviderError(
            f"task {task_id} completed without a concept_json object", retryable=False
        )
    return {
        "ad_archive_id": params.ad_archive_id,
        "task_id": task_id,
        "status": "completed",
        "concept_json": concept,
        "provider": done.provider,
    }


def register_concept(registry: Registry) -> None:
    """Register ``concept``."""
    registry.job("concept", max_attempts=3, timeout_s=1800)(make_concept)
