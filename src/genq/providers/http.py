"""Outbound HTTP to AI services: explicit timeouts, retries with backoff, one log line a call.

Every provider talks through :class:`Outbound`. A call is retried on network errors and
timeouts, on 429 (waiting what ``Retry-After`` asks, within a cap) and on 5xx; any other
4xx, or an answer that is not the JSON expected, fails at once. When the retries are spent
the failure becomes a :class:`~genq.domain.errors.ProviderError` whose code says why. The
log line names the provider, method, path, status and duration, never a header (keys
travel in headers only).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from genq.domain.errors import ProviderError, ProviderRateLimited, ProviderTimeout

log = logging.getLogger("genq.providers")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How an outbound call is retried."""

    attempts: int = 4  # calls in all, the first included
    initial_s: float = 0.5  # first backoff (exponential with full jitter)
    max_wait_s: float = 10.0  # no single wait longer than this, Retry-After included


class _Retryable(Exception):
    """A failure worth another call; ``retry_after`` when the server asked for a wait."""

    def __init__(self, error: ProviderError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class Outbound:
    """One AI service's base URL, credentials, timeouts and retry policy."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.retry = retry or RetryPolicy()
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        """Call and decode a JSON answer, retrying as the policy says."""

        async def once() -> Any:
            response = await self._send(method, path, body)
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise ProviderError(
                    f"{self.name} answered {method} {path} with malformed JSON",
                    details={"status": response.status_code},
                ) from None

        return await self._with_retries(once)

    async def bytes(self, url: str, max_bytes: int) -> tuple[bytes, str]:
        """Download ``url`` (absolute, or relative to the base), at most ``max_bytes``;
        return the body and its content type."""

        async def once() -> tuple[bytes, str]:
            started = time.perf_counter()
            status = 0
            try:
                async with self._client.stream("GET", url) as response:
                    status = response.status_code
                    _raise_for_status(self.name, "GET", url, response)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise _too_large(self.name, declared, max_bytes)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _too_large(self.name, size, max_bytes)
                        chunks.append(chunk)
                    kind = response.headers.get("content-type", "").split(";")[0].strip()
                    return b"".join(chunks), kind
            except httpx.HTTPError as exc:
                raise _transport_failure(self.name, "GET", url, exc) from None
            finally:
                self._log("GET", url, status, started)

        return await self._with_retries(once)

    @asynccontextmanager
    async def stream_lines(self, method: str, path: str, body: Any) -> AsyncIterator[Any]:
        """Open a streamed call (retried until its headers arrive) and yield its lines."""
        response: httpx.Response | None = None

        async def opened() -> httpx.Response:
            request = self._client.build_request(method, path, json=body)
            started = time.perf_counter()
            try:
                answer = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                self._log(method, path, 0, started)
                raise _transport_failure(self.name, method, path, exc) from None
            self._log(method, path, answer.status_code, started)
            if answer.status_code >= 400:
                await answer.aread()
                await answer.aclose()
                _raise_for_status(self.name, method, path, answer)
            return answer

        response = await self._with_retries(opened)
        try:
            yield _lines(self.name, response)
        finally:
            await response.aclose()

    async def _send(self, method: str, path: str, body: Any) -> httpx.Response:
        started = time.perf_counter()
        status = 0
        try:
            response = await self._client.request(method, path, json=body)
            status = response.status_code
        except httpx.HTTPError as exc:
            raise _transport_failure(self.name, method, path, exc) from None
        finally:
            self._log(method, path, status, started)
        _raise_for_status(self.name, method, path, response)
        return response

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        policy = self.retry
        backoff = wait_random_exponential(multiplier=policy.initial_s, max=policy.max_wait_s)

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return min(exc.retry_after, policy.max_wait_s)
            return float(backoff(state))

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(policy.attempts),
                wait=wait,
                retry=retry_if_exception_type(_Retryable),
                reraise=True,
            ):
                with attempt:
                    return await call()
        except _Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _log(self, method: str, path: str, status: int, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %s -> %s in %.0f ms",
            self.name,
            method,
            _without_query(path),
            status or "no answer",
            ms,
        )


async def _lines(name: str, response: httpx.Response) -> AsyncIterator[str]:
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx.HTTPError as exc:
        raise ProviderError(f"{name} broke off its stream: {type(exc).__name__}") from None


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _raise_for_status(name: str, method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    where = f"{name} answered {method} {_without_query(path)} with {status}"
    details = {"status": status}
    if status == 429:
        wait = retry_after_s(response.headers.get("retry-after"))
        raise _Retryable(ProviderRateLimited(f"{where} (rate limited)", details=details), wait)
    if status >= 500 or status == 408:
        raise _Retryable(ProviderError(where, details=details))
    raise ProviderError(where, retryable=False, details=details)


def _transport_failure(name: str, method: str, path: str, exc: httpx.HTTPError) -> _Retryable:
    where = f"{name} {method} {_without_query(path)}"
    if isinstance(exc, httpx.TimeoutException):
        return _Retryable(ProviderTimeout(f"{where} timed out ({type(exc).__name__})"))
    return _Retryable(ProviderError(f"{where} failed: {type(exc).__name__}"))


def _too_large(name: str, size: int, limit: int) -> ProviderError:
    return ProviderError(
        f"{name}: the download is larger than {limit} bytes",
        retryable=False,
        details={"size": size, "limit": limit},
    )
