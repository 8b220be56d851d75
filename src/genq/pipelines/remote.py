"""Job types that only remote workers run (seed 004's GPU job types), by name and queue.

genq keeps, routes and watches these jobs like any other, but has no handler for them:
they wait in their named queue until a remote worker that serves it claims them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from genq.domain.errors import NonRetryableError
from genq.worker.context import JobContext
from genq.worker.registry import JobType, Registry


class RemoteParams(BaseModel):
    """What a remote job carries: a prompt and anything else its worker reads."""

    model_config = ConfigDict(extra="allow")

    prompt: str | None = Field(None, max_length=4000)


async def _not_here(ctx: JobContext, params: RemoteParams) -> None:
    raise NonRetryableError(
        f"{ctx.job.type!r} runs on remote workers only (queue {ctx.job.queue!r})",
        code="REMOTE_ONLY",
    )


def register_remote(registry: Registry, routes: dict[str, str]) -> None:
    """Register each remote job type on its queue (names already registered are kept)."""
    for name, queue in routes.items():
        if registry.get(name) is None:
            registry.add(
                JobType(
                    name=name,
                    handler=_not_here,
                    queue=queue,
                    max_attempts=3,
                    params_model=RemoteParams,
                    description=f"run by remote workers of {queue}",
                )
            )
