"""Remote workers (seed 004): their registry record and how healthy they look (pure)."""

from __future__ import annotations

import hashlib
import hmac
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


def last_heard(last_seen_at: float, health: dict[str, Any] | None) -> float:
    """When the worker was last known alive: its last call to genq, or a health check of
    its own that succeeded (all a callback worker shows while it has no jobs)."""
    if health is not None and health.get("ok"):
        return max(last_seen_at, float(health.get("checkedAt", 0.0)))
    return last_seen_at


def status(
    last_seen_at: float, now: float, heartbeat_s: float, health: dict[str, Any] | None = None
) -> str:
    """healthy (heard from within two heartbeats), unhealthy (within five, or its last
    health check failed), else offline."""
    silent = now - last_heard(last_seen_at, health)
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


# --- callback mode: signatures (pure) -------------------------------------------------------

SIGNATURE_HEADER = "X-Genq-Signature"
SIGNATURE_TOLERANCE_S = 300  # a signed push older (or newer) than this is refused


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def callback_secret(node_secret: str, worker_id: str) -> str:
    """The secret a callback worker checks genq's pushes with (derived: nothing stored)."""
    return _mac(node_secret, f"genq-callback-secret:{worker_id}")


def attempt_signature(node_secret: str, worker_id: str, job_id: str, attempt: int) -> str:
    """The credential of one pushed attempt's callback URL: it names the worker, the job
    and the attempt, so it is worth nothing for any other."""
    return _mac(node_secret, f"genq-attempt:{worker_id}:{job_id}:{attempt}")


def valid_attempt_signature(
    node_secret: str, worker_id: str, job_id: str, attempt: int, given: str
) -> bool:
    """Whether ``given`` is that attempt's signature (compared in constant time)."""
    expected = attempt_signature(node_secret, worker_id, job_id, attempt)
    return hmac.compare_digest(expected.encode(), given.encode())


def sign_push(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Genq-Signature`` value of a push: ``t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>." + body>`` under the worker's callback secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_push(secret: str, header: str, body: bytes, now: float) -> bool:
    """Whether a push's signature header is genuine and recent (what a worker checks)."""
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_S:
        return False
    expected = sign_push(secret, timestamp, body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").strip().encode())
