"""The app factory: ``create_app(settings)`` builds the ASGI app around one genq node."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from genq import __version__
from genq.api import errors
from genq.api.metrics import Metrics
from genq.api.middleware import BodyLimit, HttpMetrics, RateLimitHeaders, RedactTokens
from genq.api.routes import (
    auth,
    billing,
    courses,
    events,
    files,
    health,
    jobs,
    prompts,
    queues,
    workers,
)
from genq.node import Node
from genq.pipelines import default_registry
from genq.settings import Settings
from genq.worker.registry import Registry


def create_app(
    settings: Settings | None = None,
    registry: Registry | None = None,
    node: Node | None = None,
) -> FastAPI:
    """The genq API; the node (store, bus, workers) lives for the app's lifespan."""
    settings = settings or Settings()
    metrics = Metrics()
    the_node = node or Node(
        settings,
        registry or default_registry(),
        workers=settings.run_workers,
        serve_events=True,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        access_log = logging.getLogger("uvicorn.access")
        if not any(isinstance(f, RedactTokens) for f in access_log.filters):
            access_log.addFilter(RedactTokens())
        await the_node.start()
        unsubscribe = metrics.watch(the_node.bus)
        try:
            yield
        finally:
            unsubscribe()
            await the_node.stop()

    app = FastAPI(
        title="genq",
        version=__version__,
        description="A self-hosted server for AI generation jobs with live progress over SSE.",
        lifespan=lifespan,
    )
    app.state.node = the_node
    app.state.metrics = metrics
    errors.install(app)
    for module in (jobs, events, queues, auth, billing, prompts, courses, workers, files, health):
        app.include_router(module.router)
    # Long-lived streams skip FastAPI's per-request machinery (see routes/events.py).
    app.router.routes[:0] = events.raw_routes
    if the_node.limiter is not None:  # one less layer on every response without limits
        app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                "X-API-Key",
                "X-On-Behalf-Of",
                "Prefer",
            ],
            expose_headers=[
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
                "Idempotent-Replayed",
            ],
            max_age=600,
        )
    app.add_middleware(HttpMetrics, metrics=metrics)
    return app
