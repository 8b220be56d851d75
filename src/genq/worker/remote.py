"""The reference remote worker: ``genq worker --remote URL --token T --queue sdxl_queue``.

It registers with a genq server, then runs genq's own worker runtime over a
:class:`~genq.worker.link.WorkerLink` instead of a database: the same handlers, progress
coalescing, heartbeats, cancellation and graceful shutdown (jobs still running when the
grace ends are released back to their queue). Optionally it answers ``GET /health`` on a
port of its own, given to the server as its ``health_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import orjson

from genq.bus.memory import MemoryBus
from genq.providers import Providers
from genq.worker.link import LinkBlobs, WorkerLink
from genq.worker.registry import Registry
from genq.worker.runtime import Worker, WorkerConfig, worker_name

log = logging.getLogger("genq.worker")


@dataclass(slots=True)
class RemoteOptions:
    """How a remote worker connects and runs."""

    url: str
    token: str
    queues: Sequence[str] = ("sdxl_queue",)
    name: str = field(default_factory=worker_name)
    concurrency: int = 1
    capabilities: Sequence[str] = ()
    # How long one claim waits for work. A stop waits for the claim in flight (jobs it
    # brings are then given back), so this bounds how long stopping takes.
    claim_wait_s: float = 5.0
    shutdown_grace_s: float = 30.0
    progress_interval_s: float = 0.25
    health_host: str | None = None  # answer GET /health here (None: no health endpoint)
    health_port: int = 0  # 0: any free port


class RemoteRunner:
    """One remote worker process's life: register, run jobs, stop."""

    def __init__(
        self,
        options: RemoteOptions,
        registry: Registry,
        providers: Providers | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options
        self.registry = registry
        self.providers = providers
        self.link = WorkerLink(
            options.url, options.token, claim_wait_s=options.claim_wait_s, transport=transport
        )
        self.worker: Worker | None = None
        self._health: asyncio.Server | None = None

    @property
    def worker_id(self) -> str | None:
        """The id the server gave this worker."""
        return self.link.worker_id

    async def start(self) -> None:
        """Register with the server and start claiming."""
        o = self.options
        health_url = await self._serve_health() if o.health_host else None
        await self.link.register(o.name, o.queues, o.capabilities, o.concurrency, health_url)
        config = WorkerConfig(
            queues=tuple(o.queues),
            concurrency=o.concurrency,
            claim_batch=o.concurrency,
            lease_s=self.link.lease_s,
            heartbeat_s=self.link.heartbeat_s,
            poll_s=0.0,  # the claim itself waits (a long poll)
            progress_interval_s=o.progress_interval_s,
            shutdown_grace_s=o.shutdown_grace_s,
        )
        self.worker = Worker(
            self.link,
            MemoryBus(),
            self.registry,
            config,
            name=f"{o.name} ({self.link.worker_id})",
            providers=self.providers,
            blobs=LinkBlobs(self.link),
        )
        await self.worker.start()
        log.info(
            "remote worker %s registered at %s as %s, queues %s",
            o.name,
            self.link.url,
            self.link.worker_id,
            list(o.queues),
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop claiming; running jobs get the grace, then go back to their queues."""
        if self.worker is not None:
            await self.worker.stop(grace_s)
        if self._health is not None:
            self._health.close()
            await self._health.wait_closed()
        await self.link.close()
        if self.providers is not None:
            await self.providers.close()

    # --- GET /health -----------------------------------------------------------------------

    async def _serve_health(self) -> str:
        o = self.options
        assert o.health_host is not None
        self._health = await asyncio.start_server(self._answer, o.health_host, o.health_port)
        port = self._health.sockets[0].getsockname()[1]
        return f"http://{o.health_host}:{port}/health"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            ok = request.startswith(b"GET /health ")
            body = orjson.dumps(
                {
                    "status": "ok",
                    "name": self.options.name,
                    "activeJobs": self.worker.active if self.worker else 0,
                    "maxConcurrency": self.options.concurrency,
                }
                if ok
                else {"error": "not found"}
            )
            head = (
                f"HTTP/1.1 {'200 OK' if ok else '404 Not Found'}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()
