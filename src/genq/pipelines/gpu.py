"""Handlers for seed 004's GPU job types, run by the reference remote worker.

They stand in for the real SDXL and WAN models: the worker's image provider (the offline
demo painter unless one is configured) draws the prompt, a video is a short animated GIF
panning across that picture, and the file is stored in genq's blob store through the
worker protocol. ``seconds`` of simulated rendering, with progress, make them behave like
a GPU job (a worker can be stopped or killed in the middle of one). Results name the
provider and model, so no one mistakes them for a real model's output.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

from genq.blobs import job_prefix
from genq.domain.workers import SEED_004_ROUTES
from genq.pipelines.image import received
from genq.pipelines.remote import RemoteParams
from genq.providers.base import ImageRequest
from genq.worker.context import JobContext
from genq.worker.registry import Handler, JobType, Registry

DEFAULT_PROMPT = "a quiet landscape at dawn"
RENDER_TICKS = 10  # progress events over the simulated rendering


@dataclass(frozen=True, slots=True)
class Output:
    """What a job type makes: an image or a video, and its size."""

    kind: str  # "image" or "video"
    width: int
    height: int
    frames: int = 1


def output_of(job_type: str) -> Output:
    """The output a seed 004 job type asks for (SDXL square images, WAN 16:9 frames)."""
    if job_type.startswith("sdxl_"):
        return Output("image", 1024, 1024)
    if "video" in job_type:
        return Output("video", 480, 270, frames=16)
    return Output("image", 1280, 720)


def pan_gif(still: bytes, width: int, height: int, frames: int) -> bytes:
    """An animated GIF: a ``width`` by ``height`` window panning across ``still``."""
    from PIL import Image

    with Image.open(io.BytesIO(still)) as img:
        scale = height / img.height * 1.5
        wide = img.convert("RGB").resize(
            (max(width + 1, round(img.width * scale)), round(height * 1.5))
        )
    span_x, span_y = wide.width - width, wide.height - height
    steps = max(frames - 1, 1)
    shots = []
    for i in range(frames):
        x, y = span_x * i // steps, span_y * i // steps // 2
        shots.append(wide.crop((x, y, x + width, y + height)))
    out = io.BytesIO()
    shots[0].save(out, "GIF", save_all=True, append_images=shots[1:], duration=125, loop=0)
    return out.getvalue()


def make_handler(seconds: float) -> Handler:
    """A handler that renders for about ``seconds`` with progress, then stores its output."""

    async def render(ctx: JobContext, params: RemoteParams) -> dict[str, Any]:
        out = output_of(ctx.job.type)
        prompt = (params.prompt or "").strip() or DEFAULT_PROMPT
        ctx.total_steps = 3
        async with ctx.step("load", "Loading the model"):
            await ctx.progress(5, "Loading the model")
        async with ctx.step("render", f"Rendering the {out.kind}"):
            for tick in range(RENDER_TICKS):
                ctx.check_cancelled()
                await asyncio.sleep(seconds / RENDER_TICKS)
                await ctx.progress(10 + 80 * (tick + 1) // RENDER_TICKS, f"Rendering {out.kind}")
            request = ImageRequest(prompt, f"{out.width}x{out.height}")
            made = await ctx.providers.images.generate(request)
            data, checked = await received(ctx.providers, made)
        async with ctx.step("upload", "Storing the output"):
            if out.kind == "video":
                data = await asyncio.to_thread(pan_gif, data, out.width, out.height, out.frames)
                content_type, name = "image/gif", "output.gif"
            else:
                content_type, name = checked.content_type, f"output.{checked.extension}"
            blob = await ctx.blobs.put(f"{job_prefix(ctx.job.id)}{name}", data, content_type)
            await ctx.log(f"Stored {name} ({blob.size} bytes)")
        return {
            "kind": out.kind,
            "url": blob.url,
            "contentType": content_type,
            "width": out.width,
            "height": out.height,
            "frames": out.frames,
            "prompt": prompt,
            "provider": made.provider,
            "model": made.model,
        }

    return render


def register_gpu(
    registry: Registry, routes: dict[str, str] | None = None, seconds: float = 2.0
) -> None:
    """Register the stand-in GPU handler for each remote job type (seed 004's by default)."""
    handler = make_handler(seconds)
    for name, queue in (SEED_004_ROUTES if routes is None else routes).items():
        registry.add(
            JobType(
                name=name,
                handler=handler,
                queue=queue,
                params_model=RemoteParams,
                description=f"stand-in GPU {output_of(name).kind} ({queue})",
            )
        )
