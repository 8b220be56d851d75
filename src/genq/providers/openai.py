"""OpenAI-compatible images and chat: OpenAI itself, vLLM, Ollama, LocalAI, gateways.

``POST {base}/images/generations`` (answers with ``b64_json`` or ``url``, and maybe a
``revised_prompt``) and ``POST {base}/chat/completions`` (whole, or streamed as SSE
``data:`` lines ending with ``[DONE]``). The base URL includes the version path, as in
OpenAI's own clients: ``https://api.openai.com/v1``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from genq.domain.errors import ProviderError
from genq.providers.base import ChatRequest, ChatResult, GeneratedImage, ImageRequest
from genq.providers.http import Outbound

NAME = "openai"


def _malformed(what: str, details: Any = None) -> ProviderError:
    return ProviderError(f"{NAME}: {what}", retryable=False, details=details)


class OpenAIImages:
    """Text to image through ``/images/generations``."""

    name = NAME

    def __init__(self, http: Outbound, model: str, response_format: str | None) -> None:
        self.http = http
        self.model = model
        self.response_format = response_format

    async def generate(self, request: ImageRequest) -> GeneratedImage:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "size": request.size,
            "quality": request.quality,
            "style": request.style,
        }
        if self.response_format:
            body["response_format"] = self.response_format
        answer = await self.http.json("POST", "/images/generations", body)
        try:
            item = answer["data"][0]
        except (KeyError, IndexError, TypeError):
            raise _malformed("the image answer has no data[0]") from None
        if not isinstance(item, dict):
            raise _malformed("the image answer's data[0] is not an object")
        revised = item.get("revised_prompt")
        if isinstance(item.get("b64_json"), str):
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise _malformed("b64_json is not base64") from None
            return GeneratedImage(data, None, None, revised, self.model, NAME)
        if isinstance(item.get("url"), str):
            return GeneratedImage(None, item["url"], None, revised, self.model, NAME)
        raise _malformed("the image answer has neither b64_json nor url")


class OpenAIChat:
    """Chat completions through ``/chat/completions``."""

    name = NAME

    def __init__(self, http: Outbound, model: str) -> None:
        self.http = http
        self.model = model

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": request.messages,
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_output:
            body["response_format"] = {"type": "json_object"}
        if stream:
            body["stream"] = True
        return body

    async def complete(self, request: ChatRequest) -> ChatResult:
        answer = await self.http.json("POST", "/chat/completions", self._body(request, False))
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _malformed("the chat answer has no choices[0].message.content") from None
        if not isinstance(text, str):
            raise _malformed("the chat answer's content is not text")
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        return ChatResult(text, str(answer.get("model") or body_model(request, self)), NAME, usage)

    async def stream(
        self, request: ChatRequest, on_text: Callable[[str], Awaitable[None]]
    ) -> ChatResult:
        pieces: list[str] = []
        model = body_model(request, self)
        async with self.http.stream_lines(
            "POST", "/chat/completions", self._body(request, True)
        ) as lines:
            async for line in lines:
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = orjson.loads(data)
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
                    raise _malformed("a streamed chunk is not a completion chunk") from None
                model = str(chunk.get("model") or model)
                if delta:
                    pieces.append(delta)
                    await on_text(delta)
        return ChatResult("".join(pieces), model, NAME)


def body_model(request: ChatRequest, chat: OpenAIChat) -> str:
    """The model a request asks for: its own, or the provider's default."""
    return request.model or chat.model
