"""``noop`` (for benchmarks) and ``demo.steps`` (live progress with no provider at all)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genq.domain.errors import JobError
from genq.worker.context import JobContext
from genq.worker.registry import Registry

STEP_NAMES = (
    "prepare",
    "analyse",
    "generate",
    "refine",
    "render",
    "upload",
    "verify",
    "publish",
)
TICKS_PER_STEP = 4


class NoopParams(BaseModel):
    """``noop`` takes anything and ignores it."""

    model_config = ConfigDict(extra="allow")


class StepsParams(BaseModel):
    """Parameters of ``demo.steps``."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(5, ge=1, le=100, description="how many named steps to walk")
    step_ms: int = Field(300, ge=0, le=60_000, description="how long each step takes")
    fail_step: int | None = Field(
        None, ge=1, description="fail the attempt at this step (to see retries)"
    )


async def noop(ctx: JobContext, params: NoopParams) -> None:
    """Does nothing: the floor for throughput benchmarks."""
    return None


async def demo_steps(ctx: JobContext, params: StepsParams) -> dict[str, Any]:
    """Walks N named steps with progress and log lines."""
    ctx.total_steps = params.steps
    names = [
        STEP_NAMES[i % len(STEP_NAMES)]
        + (f"_{i // len(STEP_NAMES) + 1}" if i >= len(STEP_NAMES) else "")
        for i in range(params.steps)
    ]
    tick = params.step_ms / 1000 / TICKS_PER_STEP
    for index, name in enumerate(names, start=1):
        async with ctx.step(name, message=f"Step {index} of {params.steps}: {name}"):
            await ctx.log(f"{name}: started (attempt {ctx.attempt})")
            if params.fail_step == index:
                raise JobError(f"step {index} ({name}) failed on purpose", code="DEMO_FAILURE")
            for t in range(1, TICKS_PER_STEP + 1):
                await asyncio.sleep(tick)
                done = (index - 1 + t / TICKS_PER_STEP) / params.steps
                await ctx.progress(done * 100, f"{name} {t * 100 // TICKS_PER_STEP}%")
            await ctx.log(f"{name}: done")
    return {"steps": params.steps, "names": names}


def register_builtin(registry: Registry) -> None:
    """Register ``noop`` and ``demo.steps``."""
    registry.job("noop", max_attempts=1)(noop)
    registry.job("demo.steps", max_attempts=3)(demo_steps)
