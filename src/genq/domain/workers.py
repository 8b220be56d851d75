"""Remote workers (seed 004): their registry record and how healthy they look (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genq.domain.events import EventType

# Seed 004: SDXL types to sdxl_queue, the WAN image and video types to wan_queue.
SEED_004_ROUTES: dict[str, str] = {
    "sdxl_image_fast": "sdxl_queue",
    "sdxl_image_high": "sdxl_queue",
    "image_fast": "wan_queue",
    "image_high": "wan_queue",
    "video_fast": "wan_queue",
    "video_high": "wan_queue",
    "image7b_fast_enhanced": "wan_queue",
    "image7b_high_enhanced": "wan_queue",
    "video7b_fast_enhanced": "wan_queue",
    "video7b_high_enhanced": "wan_queue",
}

# Events a worker may not write: the job's own life is genq's to record.
RESERVED_EVENTS = frozenset(
    {
        EventType.JOB_CREATED,
        EventType.JOB_STARTED,
        EventType.JOB_RETRYING,
        EventType.JOB_COMPLETED,
        EventType.JOB_FAILED,
        EventType.JOB_CANCELLED,
    }
)

LEASE_PREFIX = "remote:"  # a remote worker's leases are held under "remote:{worker id}"


@dataclass(slots=True)
class RemoteWorker:
    """A registered remote worker."""

    id: str
    name: str
    principal: str
    queues: list[str]
    capabilities: list[str]
    max_concurrency: int
    registered_at: float
    last_seen_at: float
    health_url: str | None = None
    callback_url: str | None = None
    health: dict[str, Any] | None = field(default=None)

    @property
    def lease_owner(self) -> str:
        """The name its leases are held under."""
        return LEASE_PREFIX + self.id


def status(
    last_seen_at: float, now: float, heartbeat_s: float, health: dict[str, Any] | None = None
) -> str:
    """healthy (heard from within two heartbeats), unhealthy (within five, or its last
    health check failed), else offline."""
    silent = now - last_seen_at
    if silent > 5 * heartbeat_s:
        return "offline"
    if silent > 2 * heartbeat_s or (health is not None and not health.get("ok")):
        return "unhealthy"
    return "healthy"


def checked(
    ok: bool, checked_at: float, ms: int, http_status: int | None, error: str | None = None
) -> dict[str, Any]:
    """The record of one health check of a worker's ``health_url``."""
    doc: dict[str, Any] = {"ok": ok, "checkedAt": checked_at, "ms": ms, "status": http_status}
    if error is not None:
        doc["error"] = error
    return doc
