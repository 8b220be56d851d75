"""A synchronous client of the genq API (used by the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from genq.client._sse import SSEDecoder, SSEMessage

TERMINAL_EVENTS = frozenset({"job_completed", "job_failed", "job_cancelled"})


class ApiError(Exception):
    """The server answered with an error envelope (or could not be reached)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class Client:
    """Talks to one genq server."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float = 30,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "UNREACHABLE", f"cannot reach {self.base_url}: {exc}") from exc
        body = response.json() if response.content else None
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise ApiError(
                response.status_code,
                body.get("code", "HTTP_ERROR"),
                body.get("message", response.reason_phrase),
                body.get("details"),
            )
        return body

    def submit(
        self, type: str, params: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """Submit a job; ``options`` are the other fields of ``POST /v1/jobs``."""
        body = {
            "type": type,
            "params": params or {},
            **{k: v for k, v in options.items() if v is not None},
        }
        result: dict[str, Any] = self._call("POST", "/v1/jobs", json=body)
        return result

    def get(self, job_id: str) -> dict[str, Any]:
        """One job."""
        result: dict[str, Any] = self._call("GET", f"/v1/jobs/{job_id}")
        return result

    def list(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs (filters: status, type, queue, limit, cursor)."""
        params = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = self._call("GET", "/v1/jobs", params=params)
        return result

    def cancel(self, job_id: str, reason: str | None = None) -> dict[str, Any]:
        """Cancel a job."""
        result: dict[str, Any] = self._call(
            "POST", f"/v1/jobs/{job_id}/cancel", json={"reason": reason}
        )
        return result

    def retry(self, job_id: str) -> dict[str, Any]:
        """Retry a failed or cancelled job."""
        result: dict[str, Any] = self._call("POST", f"/v1/jobs/{job_id}/retry")
        return result

    def queues(self) -> dict[str, Any]:
        """Queue statistics."""
        result: dict[str, Any] = self._call("GET", "/v1/queues")
        return result

    def events(
        self, job_id: str, last_event_id: str | None = None, max_reconnects: int = 10
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (event type, payload) of a job's stream until its terminal event, resuming by
        Last-Event-ID when the connection drops."""
        reconnects = 0
        while True:
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            decoder = SSEDecoder()
            try:
                with self._http.stream(
                    "GET",
                    f"/v1/jobs/{job_id}/events",
                    headers=headers,
                    timeout=httpx.Timeout(30, read=None),
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        self._raise_for(response)
                    for chunk in response.iter_bytes():
                        for message in decoder.feed(chunk):
                            if message.id is not None:
                                last_event_id = message.id
                            yield message.event, _payload(message)
                            if message.event in TERMINAL_EVENTS:
                                return
                return  # the server ended the stream: the job was already finished
            except (httpx.TransportError, httpx.RemoteProtocolError):
                reconnects += 1
                if reconnects > max_reconnects:
                    raise
                time.sleep(min(0.2 * reconnects, 2.0))

    def _raise_for(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise ApiError(
            response.status_code, body.get("code", "HTTP_ERROR"), body.get("message", "")
        )


def _payload(message: SSEMessage) -> dict[str, Any]:
    try:
        value = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        return {"raw": message.data}
    return value if isinstance(value, dict) else {"value": value}
