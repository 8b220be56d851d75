"""A genq node: the store, bus, services, workers and background duties of one process.

``genq serve`` runs a node behind the HTTP API; ``genq worker`` runs one without it. The
settings decide what a node holds; the code is the same in every deployment shape.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from genq.blobs import make_blobs
from genq.bus.base import JOBS, SCHEDULE, Bus
from genq.bus.memory import MemoryBus
from genq.domain.auth import Role
from genq.pipelines.remote import register_remote
from genq.providers import make_providers
from genq.service.credits import CreditService
from genq.service.events import EventHub
from genq.service.jobs import JobService
from genq.service.keys import ApiKeys
from genq.service.limits import RateLimiter
from genq.service.push import Pusher
from genq.service.remote import RemoteWorkers
from genq.settings import Settings
from genq.store import make_store
from genq.store.base import Store
from genq.store.migrate import upgrade
from genq.store.sql import SqlStore
from genq.worker.maintenance import Cleaner, HealthChecker, Maintenance, Reaper, Scheduler
from genq.worker.registry import Registry
from genq.worker.runtime import Worker, WorkerConfig

if TYPE_CHECKING:
    from genq.service.auth import Authenticator

log = logging.getLogger("genq")


def make_bus(settings: Settings) -> Bus:
    """The bus the settings ask for."""
    if settings.bus_kind == "postgres":
        from genq.bus.postgres import PostgresBus

        return PostgresBus(settings.postgres_dsn)
    return MemoryBus()


def worker_config(settings: Settings) -> WorkerConfig:
    """Worker settings from genq settings."""
    return WorkerConfig(
        queues=tuple(settings.queues),
        concurrency=settings.concurrency,
        claim_batch=settings.claim_batch,
        lease_s=settings.lease_s,
        heartbeat_s=settings.heartbeat_s,
        poll_s=settings.poll_s,
        progress_interval_s=settings.progress_interval_s,
        flush_interval_s=settings.flush_interval_s,
        shutdown_grace_s=settings.shutdown_grace_s,
    )


class Node:
    """Everything one genq process runs, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        *,
        workers: bool,
        serve_events: bool,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        register_remote(registry, settings.remote_job_types)
        self.registry = registry
        self.store = store or make_store(settings.db_url)
        self.bus = make_bus(settings)
        self.providers = make_providers(settings)
        self.blobs = make_blobs(settings)
        self.credits = CreditService(self.store, settings.credit_costs)
        self.jobs = JobService(
            self.store,
            self.bus,
            registry,
            self.credits if self.credits.enabled else None,
            settings.max_active_jobs,
            self.blobs,
        )
        self.keys = ApiKeys(self.store, settings.api_key_cache_s)
        # Set in start() with auth on; the rate limiter only where some caller is limited.
        self._stream_secret = (
            settings.secret_key.get_secret_value() if settings.secret_key else None
        )
        self.auth: Authenticator | None = None
        self.limiter: RateLimiter | None = None
        if (
            serve_events
            and settings.rate_limits
            and (settings.auth_on or Role.ADMIN.value in settings.rate_limits)
        ):
            self.limiter = RateLimiter(
                settings.rate_limit_storage, settings.rate_limit_strategy, settings.rate_limits
            )
        self.remote = RemoteWorkers(
            self.store,
            self.bus,
            registry,
            self.blobs,
            settings.lease_s,
            settings.heartbeat_s,
            self.stream_secret,
        )
        self.hub = EventHub(
            self.store,
            self.bus,
            heartbeat_s=settings.sse_heartbeat_s,
            resync_s=settings.sse_resync_s,
            queue_limit=settings.sse_queue_limit,
        )
        self.worker = (
            Worker(
                self.store,
                self.bus,
                registry,
                worker_config(settings),
                providers=self.providers,
                blobs=self.blobs,
            )
            if workers
            else None
        )
        self.serve_events = serve_events
        self.duties: list[Maintenance] = []
        self.pusher: Pusher | None = None
        # Every serving or working node keeps time: jobs of remote workers need the reaper
        # and scheduler even where no node of the deployment runs in-process workers.
        if workers or serve_events:
            self.duties = [
                Reaper(self.store, self.bus, settings.reaper_interval_s, lease_s=settings.lease_s),
                Scheduler(self.store, self.bus, settings.poll_s),
            ]
            if settings.retention_s is not None:
                self.duties.append(Cleaner(self.store, settings.retention_s, blobs=self.blobs))
        if serve_events:
            self.duties.append(
                HealthChecker(
                    self.store,
                    settings.worker_health_interval_s,
                    settings.worker_health_timeout_s,
                    retention_s=settings.worker_retention_s,
                )
            )
            self.pusher = Pusher(
                self.remote, settings.poll_s, settings.worker_push_timeout_s, settings.public_url
            )
            self.duties.append(self.pusher)

    async def stream_secret(self) -> str:
        """The key that signs stream tokens: configured, or one kept in the database (read
        on first use, so that a node starts while its database is away)."""
        if self._stream_secret is None:
            self._stream_secret = await self.store.shared_secret(
                "stream_tokens", secrets.token_urlsafe(32)
            )
        return self._stream_secret

    async def start(self) -> None:
        """Open the store (migrating it if configured), then start everything else."""
        await self.store.open()
        if self.settings.auto_migrate and isinstance(self.store, SqlStore):
            await upgrade(self.store)
        await self.bus.start()
        if self.serve_events:
            if self.settings.auth_on:
                from genq.service.auth import Authenticator

                self.auth = Authenticator(self.settings, self.keys, self.stream_secret)
            self.hub.start()
        scheduler = next((d for d in self.duties if isinstance(d, Scheduler)), None)
        if scheduler is not None:
            # A newly delayed job may be due before the scheduler planned to wake.
            self.bus.subscribe(SCHEDULE, lambda _run_at: scheduler.poke())
        if self.pusher is not None:
            self.bus.subscribe(JOBS, self.pusher.wake)
        for duty in self.duties:
            duty.start()
        if self.worker is not None:
            await self.worker.start()

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop workers (within the grace), duties, streams, bus and store, in that order."""
        if self.worker is not None:
            await self.worker.stop(grace_s)
        for duty in self.duties:
            await duty.stop()
        if self.serve_events:
            await self.hub.stop()
            if self.auth is not None:
                await self.auth.close()
        await self.bus.stop()
        await self.providers.close()
        await self.blobs.close()
        await self.store.close()
