"""Prometheus metrics of one genq process (its own registry, so apps never share state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from genq.bus.base import EVENTS, Bus
from genq.domain.events import Event, EventType

_DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800)


class Metrics:
    """The metrics genq exports at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "genq_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "genq_http_request_duration_seconds",
            "Time to the start of the response",
            ["route"],
            registry=r,
        )
        self.sse_connections = Gauge("genq_sse_connections", "Open SSE streams", registry=r)
        self.jobs = Gauge(
            "genq_jobs", "Jobs by queue, type and state", ["queue", "type", "status"], registry=r
        )
        self.queue_depth = Gauge(
            "genq_queue_depth", "Ready (queued) jobs per queue", ["queue"], registry=r
        )
        self.job_duration = Histogram(
            "genq_job_duration_seconds",
            "Run time of finished attempts",
            ["outcome"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.events = Counter("genq_events", "Job events seen on the bus", ["type"], registry=r)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one HTTP request."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(route).observe(seconds)

    def watch(self, bus: Bus) -> Any:
        """Count events and job durations from the bus; returns the unsubscriber."""
        outcomes = {
            EventType.JOB_COMPLETED: "completed",
            EventType.JOB_FAILED: "failed",
            EventType.JOB_RETRYING: "retried",
        }

        def on_events(items: list[Any]) -> None:
            seen: dict[str, int] = {}
            for e in items:
                if not isinstance(e, Event):
                    continue
                seen[e.type] = seen.get(e.type, 0) + 1
                outcome = outcomes.get(e.type)  # type: ignore[call-overload]
                duration = e.data.get("duration") if outcome else None
                if outcome and isinstance(duration, int | float):
                    self.job_duration.labels(outcome).observe(duration / 1000)
            for type_, n in seen.items():
                self.events.labels(type_).inc(n)

        return bus.subscribe(EVENTS, on_events)

    def set_job_counts(self, counts: list[tuple[str, str, str, int]]) -> None:
        """Refresh the job gauges from a fresh count."""
        self.jobs.clear()
        self.queue_depth.clear()
        depth: dict[str, int] = {}
        for queue, type_, status, n in counts:
            self.jobs.labels(queue, type_, status).set(n)
            if status == "queued":
                depth[queue] = depth.get(queue, 0) + n
            else:
                depth.setdefault(queue, 0)
        for queue, n in depth.items():
            self.queue_depth.labels(queue).set(n)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
