"""Pure ASGI middleware: request body limit, HTTP metrics, rate-limit headers."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genq.api.deps import RATE_LIMIT
from genq.api.errors import error_response
from genq.api.metrics import Metrics
from genq.domain.errors import PayloadTooLarge


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 for a body over ``max_bytes``, by Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"the request body is over {self.max_bytes} bytes")
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > self.max_bytes:
                    await error_response(too_large)(scope, receive, send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await error_response(too_large)(scope, receive, send)


class HttpMetrics:
    """Counts requests and times them to the start of the response (so SSE counts too)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route: Any = scope.get("route")
                path = getattr(route, "path", None) or "unmatched"
                self.metrics.observe_http(
                    scope["method"], path, message["status"], time.perf_counter() - t0
                )
            await send(message)

        await self.app(scope, receive, timed_send)


class RateLimitHeaders:
    """Adds ``X-RateLimit-*`` to every response of a request that was counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = scope.get("state", {}).get(RATE_LIMIT)
                if status is not None:
                    headers = list(message.get("headers", ()))
                    present = {name.lower() for name, _ in headers}
                    for name, value in status.headers().items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])(?:token|api_key)=)[^&\s]+")


class RedactTokens(logging.Filter):
    """Hides ``?token=`` values (stream tokens) in logged paths, e.g. uvicorn's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True
