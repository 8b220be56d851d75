"""The ``demo`` provider: offline, deterministic from its input, never blank.

Images are drawn with Pillow: a two-colour gradient, shapes whose kinds, colours and
places come from the prompt's hash, and the prompt's words on a panel. Chat answers are
built for what the call is for (its ``purpose``): an enhanced prompt, course topics and
lessons, or plain text. The tasks service is simulated in process, a concept JSON after a
couple of polls. Every result says it came from the demo provider.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from genq.domain.tokens import count_tokens
from genq.providers.base import (
    ChatRequest,
    ChatResult,
    GeneratedImage,
    ImageRequest,
    TaskProgress,
    TaskResult,
)

NAME = "demo"
IMAGE_MODEL = "demo-painter-1"
CHAT_MODEL = "demo-writer-1"

_STYLE_WORDS = (
    "soft volumetric light",
    "golden hour",
    "rule of thirds composition",
    "shallow depth of field",
    "rich colour palette",
    "high detail",
    "crisp focus",
    "cinematic framing",
    "subtle film grain",
    "balanced contrast",
    "atmospheric haze",
    "natural textures",
)
_MOTION_WORDS = (
    "slow dolly-in camera move",
    "smooth temporal consistency",
    "gentle parallax",
    "steady tracking shot",
    "fluid natural motion",
    "consistent lighting across frames",
)


def seed_of(*parts: str) -> int:
    """A stable integer from text (the same on every machine and run)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x1792"`` → (1024, 1792); anything else → 1024 by 1024."""
    try:
        w, h = (int(v) for v in size.lower().split("x", 1))
    except ValueError:
        return 1024, 1024
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        return 1024, 1024
    return w, h


def draw(prompt: str, width: int, height: int) -> bytes:
    """A PNG drawn from the prompt: the same prompt always gives the same picture."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed_of(prompt))

    def colour() -> tuple[int, int, int]:
        return rng.randrange(30, 226), rng.randrange(30, 226), rng.randrange(30, 226)

    top, bottom = colour(), colour()
    image = Image.new("RGB", (width, height))
    pixels = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        row = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        pixels.line([(0, y), (width, y)], fill=row)
    shapes = ImageDraw.Draw(image, "RGBA")
    unit = min(width, height)
    for _ in range(6 + rng.randrange(6)):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(unit // 12, unit // 4)
        fill = (*colour(), rng.randrange(90, 200))
        kind = rng.randrange(3)
        if kind == 0:
            shapes.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        elif kind == 1:
            shapes.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=fill)
        else:
            points = [(x + rng.randrange(-r, r), y + rng.randrange(-r, r)) for _ in range(3)]
            shapes.polygon(points, fill=fill)
    words = " ".join(prompt.split()) or "genq"
    size = max(12, unit // 18)
    font = ImageFont.load_default(size=size)
    lines = textwrap.wrap(words, width=max(8, int(width / (size * 0.6))))[:6]
    line_h = round(size * 1.3)
    box_h = line_h * len(lines) + size
    y0 = height - box_h - unit // 20
    shapes.rectangle([unit // 20, y0, width - unit // 20, y0 + box_h], fill=(0, 0, 0, 140))
    for i, line in enumerate(lines):
        shapes.text((unit // 20 + size // 2, y0 + size // 2 + i * line_h), line, font=font,
                    fill=(255, 255, 255, 255))  # fmt: skip
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


class DemoImages:
    """Draws the prompt (see :func:`draw`)."""

    name = NAME

    async def generate(self, request: ImageRequest) -> GeneratedImage:
        width, height = parse_size(request.size)
        data = await asyncio.to_thread(draw, request.prompt, width, height)
        revised = f"{request.prompt.strip()} (drawn offline by the demo provider)"
        return GeneratedImage(data, None, "image/png", revised, IMAGE_MODEL, NAME)


def _user_json(request: ChatRequest) -> dict[str, Any]:
    for message in reversed(request.messages):
        if message.get("role") == "user":
            try:
                value = orjson.loads(message.get("content", ""))
            except orjson.JSONDecodeError:
                return {"text": message.get("content", "")}
            return value if isinstance(value, dict) else {"text": str(value)}
    return {}


def enhance(prompt: str, budget: int, video: bool) -> str:
    """The prompt with descriptive phrases added, chosen by its hash, within ``budget``
    (counted by :func:`genq.domain.tokens.count_tokens`)."""
    rng = random.Random(seed_of(prompt, str(budget), str(video)))
    pool = list(_STYLE_WORDS) + (list(_MOTION_WORDS) if video else [])
    rng.shuffle(pool)
    text = prompt.strip().rstrip(".")
    for phrase in pool:
        candidate = f"{text}, {phrase}"
        if count_tokens(candidate) > budget:
            break
        text = candidate
    return text


_STOP = frozenset(
    [
        "what",
        "which",
        "when",
        "where",
        "while",
        "does",
        "about",
        "their",
        "there",
        "these",
        "those",
        "would",
        "could",
        "should",
        "between",
        "after",
        "before",
        "under",
        "other",
        "using",
        "with",
        "from",
        "into",
        "that",
        "this",
        "have",
        "been",
        "will",
        "your",
        "following",
        "most",
        "best",
        "than",
        "then",
        "they",
        "them",
        "when",
        "only",
        "also",
        "such",
        "each",
        "many",
        "more",
    ]
)


def _keyword(text: str) -> str:
    words = [w.strip(".,;:?!()\"'").lower() for w in text.split()]
    words = [w for w in words if len(w) >= 4 and w.isalpha() and w not in _STOP]
    return max(words, key=lambda w: (len(w), w)) if words else "general"


def topics(questions: list[Any], most: int = 6) -> dict[str, Any]:
    """Questions grouped by their most telling word: ``{"topics": [{name, questions}]}``
    where ``questions`` holds indexes into the list given."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        text = q.get("text", "") if isinstance(q, dict) else str(q)
        groups.setdefault(_keyword(text), []).append(i)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    kept, rest = ranked[: most - 1], ranked[most - 1 :]
    if len(rest) == 1:
        kept.append(rest[0])
    elif rest:
        kept.append(("other", sorted(i for _, idx in rest for i in idx)))
    return {"topics": [{"name": k.title(), "questions": v} for k, v in kept]}


def lesson(topic: str, questions: list[Any]) -> dict[str, Any]:
    """A lesson on ``topic`` built from its questions."""
    texts = [q.get("text", "") if isinstance(q, dict) else str(q) for q in questions]
    points = [f"Why it matters: {t.rstrip('?')}." for t in texts[:5]] or [f"The basics of {topic}."]
    body = "\n\n".join(
        [f"# {topic}", f"This lesson covers {topic} through {len(texts)} exam question(s)."]
        + [f"- {p}" for p in points]
        + ["Summary: review each point, then try the questions again."]
    )
    return {"title": f"Understanding {topic}", "content": body, "key_points": points}


def _answer(request: ChatRequest) -> str:
    asked = _user_json(request)
    if request.purpose == "enhance":
        return enhance(
            str(asked.get("prompt", "")),
            int(asked.get("token_budget", 77)),
            bool(asked.get("video", False)),
        )
    if request.purpose == "topics":
        return orjson.dumps(topics(asked.get("questions", []))).decode()
    if request.purpose == "lesson":
        return orjson.dumps(
            lesson(str(asked.get("topic", "")), asked.get("questions", []))
        ).decode()
    text = str(asked.get("text", asked))
    return f"(demo provider) You said: {text[:500]}"


class DemoChat:
    """Writes the answer a call's purpose needs, deterministically."""

    name = NAME

    async def complete(self, request: ChatRequest) -> ChatResult:
        text = _answer(request)
        return ChatResult(text, CHAT_MODEL, NAME, {"completion_tokens": len(text.split())})

    async def stream(
        self, request: ChatRequest, on_text: Callable[[str], Awaitable[None]]
    ) -> ChatResult:
        result = await self.complete(request)
        for start in range(0, len(result.text), 64):
            await on_text(result.text[start : start + 64])
        return result


def concept(ad_archive_id: str, image_url: str) -> dict[str, Any]:
    """An ad concept, the same for the same ad."""
    rng = random.Random(seed_of(ad_archive_id, image_url))
    angles = ["problem and solution", "social proof", "before and after", "limited offer"]
    audiences = ["busy parents", "young professionals", "students", "small-business owners"]
    tones = ["playful", "confident", "warm", "urgent"]
    palette = [f"#{rng.randrange(0x1000000):06x}" for _ in range(3)]
    angle = rng.choice(angles)
    return {
        "ad_archive_id": ad_archive_id,
        "source_image": image_url,
        "headline": f"{rng.choice(tones).title()} take: {angle}",
        "angle": angle,
        "audience": rng.choice(audiences),
        "tone": rng.choice(tones),
        "hook": f"Stop scrolling: here is {angle} in one picture.",
        "visual": f"Recompose the source around one subject, palette {', '.join(palette)}.",
        "call_to_action": rng.choice(["Shop now", "Learn more", "Try it free", "Sign up"]),
        "palette": palette,
        "provider": NAME,
    }


class DemoTasks:
    """The tasks service simulated in process: two polls, then a concept."""

    name = NAME

    def __init__(self, poll_s: float = 0.2) -> None:
        self.poll_s = poll_s
        self._tasks: dict[str, dict[str, Any]] = {}

    async def start(self, body: dict[str, Any]) -> str:
        task_id = f"demo-{seed_of(orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()):x}"
        self._tasks[task_id] = body
        return task_id

    async def wait(self, task_id: str, on_poll: TaskProgress | None = None) -> TaskResult:
        body = self._tasks.pop(task_id, {})
        for polls, status in enumerate(("pending", "processing"), start=1):
            if on_poll is not None:
                await on_poll(status, polls)
            await asyncio.sleep(self.poll_s)
        if on_poll is not None:
            await on_poll("completed", 3)
        made = concept(str(body.get("ad_archive_id", "")), str(body.get("image_url", "")))
        return TaskResult(task_id, {"concept_json": made}, NAME)
