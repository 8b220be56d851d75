"""Fake AI services on loopback speaking the real protocols, with their failure modes.

Each fake takes a script: a list of what to do for the next calls (``"ok"``, ``"429"``,
``"500"``, ``"timeout"``, ``"malformed"``, ...); once the script is spent it answers ``ok``.
Every call is recorded, so tests can count retries and check what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HANG_S = 30.0  # longer than any client timeout a test sets


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A real PNG of the given size."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).ellipse(
        [width // 4, height // 4, width // 2, height // 2], fill=(0, 0, 255)
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class Script:
    """What to do on the next calls of one endpoint."""

    steps: list[str] = field(default_factory=list)

    def next(self) -> str:
        return self.steps.pop(0) if self.steps else "ok"


async def _failure(step: str) -> Response | None:
    if step == "429":
        return JSONResponse({"error": {"message": "slow down"}}, 429, {"Retry-After": "0"})
    if step == "500":
        return JSONResponse({"error": {"message": "boom"}}, 500)
    if step == "400":
        return JSONResponse({"error": {"message": "bad prompt"}}, 400)
    if step == "timeout":
        await asyncio.sleep(HANG_S)
        return JSONResponse({}, 500)
    if step == "malformed":
        return Response(b"{not json", media_type="application/json")
    return None


class FakeOpenAI:
    """``/v1/images/generations`` and ``/v1/chat/completions`` as OpenAI answers them."""

    def __init__(self, image_size: tuple[int, int] = (1024, 1024)) -> None:
        self.image_size = image_size
        self.images = Script()
        self.chat = Script()
        self.answer = "url"  # or "b64_json": how images are answered
        self.image_type = "image/png"  # content type of downloaded images
        self.image_body: bytes | None = None  # overrides the PNG served for downloads
        self.calls: list[Call] = []
        self.chat_text = "A cat on a velvet sofa, warm window light, shallow depth of field"
        # When set, chat answers are chat_reply(request body) instead of chat_text.
        self.chat_reply: Callable[[dict[str, Any]], str] | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/images/generations", self._images, methods=["POST"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/cdn/{name}", self._cdn),
            ]
        )
        self.base_url = ""

    def reply(self, body: dict[str, Any]) -> str:
        return self.chat_reply(body) if self.chat_reply is not None else self.chat_text

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    async def _record(self, request: Request) -> Any:
        body = await request.json() if request.method == "POST" else None
        self.calls.append(Call(request.method, request.url.path, body, dict(request.headers)))
        return body

    async def _images(self, request: Request) -> Response:
        body = await self._record(request)
        failed = await _failure(self.images.next())
        if failed is not None:
            return failed
        revised = f"{body['prompt']}, revised"
        if self.answer == "b64_json":
            data = base64.b64encode(png(*self.image_size)).decode()
            return JSONResponse(
                {"created": 1, "data": [{"b64_json": data, "revised_prompt": revised}]}
            )
        url = f"{self.base_url}/cdn/image.png"
        return JSONResponse({"created": 1, "data": [{"url": url, "revised_prompt": revised}]})

    async def _cdn(self, request: Request) -> Response:
        await self._record(request)
        body = self.image_body if self.image_body is not None else png(*self.image_size)
        return Response(body, media_type=self.image_type)

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        failed = await _failure(self.chat.next())
        if failed is not None:
            return failed
        model = body.get("model", "fake-model")
        if body.get("stream"):

            async def chunks() -> Any:
                for piece in self.reply(body).split(" "):
                    delta = {
                        "choices": [{"index": 0, "delta": {"content": piece + " "}}],
                        "model": model,
                    }
                    yield f"data: {JSONResponse(delta).body.decode()}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(chunks(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.reply(body)}}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 12},
            }
        )


class FakeTasks:
    """Seed 000's tasks service: a task completes after ``polls_to_finish`` polls."""

    def __init__(self, polls_to_finish: int = 2) -> None:
        self.polls_to_finish = polls_to_finish
        self.start_script = Script()
        self.poll_script = Script()
        self.outcome = "completed"  # "completed", "failed" or "never"
        self.calls: list[Call] = []
        self._ids = itertools.count(1)
        self._polls: dict[str, int] = {}
        self.app = Starlette(
            routes=[
                Route("/tasks", self._start, methods=["POST"]),
                Route("/tasks/{task_id}", self._poll),
            ]
        )

    async def _start(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(Call("POST", "/tasks", body, dict(request.headers)))
        failed = await _failure(self.start_script.next())
        if failed is not None:
            return failed
        task_id = f"task-{next(self._ids)}"
        self._polls[task_id] = 0
        return JSONResponse({"task_id": task_id, "status": "pending"})

    async def _poll(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        self.calls.append(Call("GET", f"/tasks/{task_id}", None, dict(request.headers)))
        failed = await _failure(self.poll_script.next())
        if failed is not None:
            return failed
        if task_id not in self._polls:
            return JSONResponse({"error": "no such task"}, 404)
        self._polls[task_id] += 1
        polls = self._polls[task_id]
        if self.outcome == "never" or polls < self.polls_to_finish:
            status = "pending" if polls == 1 else "processing"
            return JSONResponse({"task_id": task_id, "status": status})
        if self.outcome == "failed":
            return JSONResponse({"task_id": task_id, "status": "failed", "error": "model crashed"})
        concept = {"headline": "Fresh take", "task": task_id}
        return JSONResponse(
            {"task_id": task_id, "status": "completed", "result": {"concept_json": concept}}
        )
