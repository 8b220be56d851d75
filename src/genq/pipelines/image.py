"""``image`` (seed 001): a prompt, generated once, resized for every platform asked for.

generate → download → store the original → one cover-cropped JPEG per platform. Progress
follows seed 001's bands: 0-10 starting, 10-30 generating, 30-40 downloading, 40-50
saving, 50-100 processing the platforms; each stage writes a log line.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genq.blobs import job_prefix
from genq.domain.errors import ProviderError
from genq.pipelines.imaging import PLATFORMS, Inspected, cover, inspect
from genq.providers.base import GeneratedImage, ImageRequest
from genq.worker.context import JobContext
from genq.worker.registry import Registry

if TYPE_CHECKING:
    from genq.providers import Providers


class ImageOptions(BaseModel):
    """How the image is generated."""

    model_config = ConfigDict(extra="forbid")

    quality: Literal["standard", "hd"] = "standard"
    style: Literal["vivid", "natural"] = "vivid"
    size: Literal["1024x1024", "1792x1024", "1024x1792"] = "1024x1024"


class ImageParams(BaseModel):
    """Parameters of ``image``."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=10, max_length=4000, description="what to draw")
    platforms: list[str] = Field(
        min_length=1, max_length=len(PLATFORMS), description="platform sizes to make"
    )
    options: ImageOptions = Field(default_factory=ImageOptions)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 10:
            raise ValueError("prompt must have at least 10 characters besides spaces")
        return value

    @field_validator("platforms")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in PLATFORMS]
        if unknown:
            raise ValueError(
                f"unknown platform(s) {', '.join(unknown)}; valid: {', '.join(PLATFORMS)}"
            )
        return list(dict.fromkeys(value))  # each platform once, in the order asked


async def received(providers: Providers, made: GeneratedImage) -> tuple[bytes, Inspected]:
    """A generated image's bytes (inline, or downloaded without credentials), within the
    size limit and checked to be a real PNG, JPEG or WebP image."""
    if made.data is not None:
        data, declared = made.data, made.content_type
    else:
        assert made.url is not None
        data, declared = await providers.download(made.url)
    if len(data) > providers.max_download_bytes:
        raise ProviderError(
            f"the image is larger than {providers.max_download_bytes} bytes",
            retryable=False,
            details={"size": len(data), "limit": providers.max_download_bytes},
        )
    return data, await asyncio.to_thread(inspect, data, declared)


async def generate_image(ctx: JobContext, params: ImageParams) -> dict[str, Any]:
    """Generate one image from a prompt and resize it for social platforms."""
    ctx.total_steps = 4
    providers = ctx.providers
    await ctx.progress(5, "Starting")
    await ctx.log(f"Starting image generation with the {providers.images.name} provider...")

    async with ctx.step("generate", "Generating the image"):
        await ctx.progress(10, "Generating")
        o = params.options
        request = ImageRequest(params.prompt, o.size, o.quality, o.style)
        made = await providers.images.generate(request)
        await ctx.log("Image generated successfully")
        await ctx.progress(30, "Generated")

    async with ctx.step("download", "Downloading the image"):
        data, checked = await received(providers, made)
        if made.data is not None:
            await ctx.log("Image received inline")
        else:
            await ctx.log(f"Image downloaded ({len(data):,} bytes)")
        await ctx.progress(40, "Downloaded")

    prefix = job_prefix(ctx.job_id)
    async with ctx.step("save", "Saving the original"):
        original = await ctx.blobs.put(
            f"{prefix}original.{checked.extension}", data, checked.content_type
        )
        await ctx.log("Original saved")
        await ctx.progress(50, "Saved")

    images: list[dict[str, Any]] = []
    async with ctx.step("platforms", "Processing platforms"):
        for i, platform_id in enumerate(params.platforms):
            ctx.check_cancelled()
            platform = PLATFORMS[platform_id]
            await ctx.log(f"Processing {platform.name}...")
            sized = await asyncio.to_thread(cover, data, platform.width, platform.height)
            blob = await ctx.blobs.put(f"{prefix}{platform.id}.jpg", sized, "image/jpeg")
            images.append(
                {
                    "platform": platform.id,
                    "name": platform.name,
                    "url": blob.url,
                    "width": platform.width,
                    "height": platform.height,
                    "size": blob.size,
                }
            )
            await ctx.progress(50 + 50 * (i + 1) / len(params.platforms), f"{platform.name} done")
    await ctx.log("All platforms processed")
    return {
        "success": True,
        "generationId": ctx.job_id,
        "images": images,
        "original": {
            "url": original.url,
            "width": checked.width,
            "height": checked.height,
            "size": original.size,
            "contentType": checked.content_type,
        },
        "revisedPrompt": made.revised_prompt or params.prompt,
        "provider": made.provider,
        "model": made.model,
    }


def register_image(registry: Registry) -> None:
    """Register ``image``."""
    registry.job("image", max_attempts=3, timeout_s=600)(generate_image)
