"""``prompt.enhance`` (seed 004): an LLM rewrite of a prompt within the target's token budget.

Image models read only so many tokens of a prompt (CLIP's 77 for SDXL, two of which are its
start and end markers); seed 004's video models take 175 (fast) to 250 (high quality).
The rewrite is asked to stay within that budget and is cut at a word boundary if it does
not (``compression_applied``). Offered as a job and synchronously at
``POST /v1/prompts/enhance``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genq.domain.errors import ProviderError
from genq.domain.tokens import count_tokens, truncate_to_tokens
from genq.providers.base import ChatProvider, ChatRequest
from genq.worker.context import JobContext
from genq.worker.registry import Registry

VERSION = "1"
# Seed 004's job types, each with whether it is SDXL, a video, and its quality.
JOB_TYPES: dict[str, tuple[bool, bool, str]] = {
    "sdxl_image_fast": (True, False, "fast"),
    "sdxl_image_high": (True, False, "high"),
    "image_fast": (False, False, "fast"),
    "image_high": (False, False, "high"),
    "video_fast": (False, True, "fast"),
    "video_high": (False, True, "high"),
    "image7b_fast_enhanced": (False, False, "fast"),
    "image7b_high_enhanced": (False, False, "high"),
    "video7b_fast_enhanced": (False, True, "fast"),
    "video7b_high_enhanced": (False, True, "high"),
}
SDXL_BUDGET = 75  # CLIP's 77 less its start and end markers
WAN_BUDGETS = {"fast": 175, "high": 250}

_SYSTEM = (
    "You rewrite prompts for {target}. Keep the user's subject and intent; add concrete "
    "detail about {focus}. Answer with the rewritten prompt only, no quotes or preamble, "
    "in at most {budget} tokens."
)


class EnhanceParams(BaseModel):
    """Parameters of ``prompt.enhance`` and the body of ``POST /v1/prompts/enhance``."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000, description="the prompt to improve")
    job_type: str = Field(
        "sdxl_image_fast", description=f"the generation it is for: {', '.join(JOB_TYPES)}"
    )
    quality: Literal["fast", "high"] | None = Field(None, description="default: the job type's")
    model: str | None = Field(None, max_length=200, description="chat model to use")

    @model_validator(mode="after")
    def _known_type(self) -> EnhanceParams:
        if self.job_type not in JOB_TYPES:
            raise ValueError(f"unknown job_type {self.job_type!r}; valid: {', '.join(JOB_TYPES)}")
        if not self.prompt.strip():
            raise ValueError("prompt is blank")
        return self


def token_budget(job_type: str, quality: str) -> int:
    """How many prompt tokens the target model reads."""
    sdxl, _, _ = JOB_TYPES[job_type]
    return SDXL_BUDGET if sdxl else WAN_BUDGETS[quality]


def _clean(text: str) -> str:
    text = text.strip().strip('"').strip("'").strip()
    return re.sub(r"\s+", " ", text)


async def enhance(chat: ChatProvider, params: EnhanceParams) -> dict[str, Any]:
    """Rewrite ``params.prompt`` for its target; seed 004's answer shape."""
    sdxl, video, type_quality = JOB_TYPES[params.job_type]
    quality = params.quality or type_quality
    budget = token_budget(params.job_type, quality)
    target = "SDXL" if sdxl else ("the WAN video model" if video else "the WAN image model")
    focus = "motion, camera and temporal consistency" if video else "lighting and composition"
    strategy = f"{'sdxl' if sdxl else 'wan'}_{'video' if video else 'image'}_{quality}"
    asked = {
        "prompt": params.prompt,
        "token_budget": budget,
        "video": video,
        "job_type": params.job_type,
    }
    request = ChatRequest(
        messages=[
            {
                "role": "system",
                "content": _SYSTEM.format(target=target, focus=focus, budget=budget),
            },
            {"role": "user", "content": orjson.dumps(asked).decode()},
        ],
        purpose="enhance",
        max_tokens=budget * 2,
        temperature=0.7,
        model=params.model,
    )
    answer = await chat.complete(request)
    rewritten = _clean(answer.text)
    if not rewritten:
        raise ProviderError("the model answered an empty prompt", retryable=True)
    fitted = truncate_to_tokens(rewritten, budget)
    original_len, enhanced_len = len(params.prompt), len(fitted)
    growth = (enhanced_len - original_len) / max(1, original_len) * 100
    return {
        "success": True,
        "original_prompt": params.prompt,
        "enhanced_prompt": fitted,
        "enhancement_strategy": strategy,
        "enhancement_metadata": {
            "original_length": original_len,
            "enhanced_length": enhanced_len,
            "expansion_percentage": f"{growth:.1f}",
            "job_type": params.job_type,
            "format": "video" if video else "image",
            "quality": quality,
            "is_sdxl": sdxl,
            "is_video": video,
            "enhancement_strategy": strategy,
            "model_used": answer.model,
            "provider": answer.provider,
            "token_count": count_tokens(fitted),
            "token_budget": budget,
            "compression_applied": fitted != rewritten,
            "version": VERSION,
        },
    }


async def enhance_job(ctx: JobContext, params: EnhanceParams) -> dict[str, Any]:
    """Rewrite a prompt for an image or video model within its token budget."""
    async with ctx.step("enhance", "Enhancing the prompt"):
        await ctx.progress(10, "Asking the model")
        result = await enhance(ctx.providers.chat, params)
        meta = result["enhancement_metadata"]
        await ctx.log(
            f"Enhanced with {meta['model_used']}: {meta['token_count']} of "
            f"{meta['token_budget']} tokens"
        )
    return result


def register_prompts(registry: Registry) -> None:
    """Register ``prompt.enhance``."""
    registry.job("prompt.enhance", max_attempts=3, timeout_s=300)(enhance_job)
