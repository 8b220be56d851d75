"""What pipelines ask of AI providers, whoever answers: OpenAI-compatible APIs or the demo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# What a chat call is for. The OpenAI provider only logs it; the demo provider uses it to
# write the right kind of answer (it has no model to read the instructions).
Purpose = Literal["text", "topics", "lesson", "enhance", "concept"]


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One image to generate."""

    prompt: str
    size: str = "1024x1024"
    quality: str = "standard"  # "standard" or "hd"
    style: str = "vivid"  # "vivid" or "natural"


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """An image a provider made: its bytes, or a URL to download them from."""

    data: bytes | None
    url: str | None
    content_type: str | None
    revised_prompt: str | None
    model: str
    provider: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion: messages in OpenAI's shape."""

    messages: list[dict[str, str]]
    purpose: Purpose = "text"
    max_tokens: int | None = None
    temperature: float | None = None
    json_output: bool = False  # ask for a JSON object
    model: str | None = None  # overrides the provider's default


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A chat completion's text and where it came from."""

    text: str
    model: str
    provider: str
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A finished task of the seed 000 tasks service."""

    task_id: str
    result: dict[str, Any]
    provider: str


# Called with (status, polls so far) while a task runs, to report progress.
TaskProgress = Callable[[str, int], Awaitable[None]]


class ImageProvider(Protocol):
    """Text to image."""

    name: str

    async def generate(self, request: ImageRequest) -> GeneratedImage: ...


class ChatProvider(Protocol):
    """Chat completions, whole or streamed in pieces."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...

    async def stream(
        self, request: ChatRequest, on_text: Callable[[str], Awaitable[None]]
    ) -> ChatResult: ...


class TasksProvider(Protocol):
    """Seed 000's external tasks service: start a task, then wait for its result."""

    name: str

    async def start(self, body: dict[str, Any]) -> str: ...

    async def wait(self, task_id: str, on_poll: TaskProgress | None = None) -> TaskResult: ...
