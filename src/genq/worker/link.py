"""WorkerLink: a remote worker's HTTP connection to a genq server (docs/workers.md).

It speaks the remote-worker protocol and offers the worker runtime the few store calls it
makes (:class:`genq.store.base.AttemptStore`), so the in-process :class:`Worker` runs
remote jobs unchanged: claiming is a long poll, heartbeats renew leases, and each flush of
the worker's attempt writes (events, and endings: complete, fail, cancelled, release) is
one ``batch`` call, applied by the server in one transaction. Outcomes computed here are
only a proposal: the server applies the job type's own retry policy.

Transient failures (network errors, 429, 502-504) are retried with backoff for up to
``retry_s``; after that a write counts as not written, so the worker drops the attempt and
the server's reaper hands the job to another worker once its lease runs out. No job is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay
from tenacity.wait import wait_random_exponential

from genq.blobs.base import StoredBlob, check_key, job_prefix
from genq.domain.errors import StoreUnavailable
from genq.domain.events import Event
from genq.domain.job import Job
from genq.domain.states import Action, JobStatus
from genq.domain.workers import RESERVED_EVENTS
from genq.store.base import AttemptWrite, LeaseState

log = logging.getLogger("genq.worker")

_TRANSIENT = frozenset({429, 502, 503, 504})


class LinkError(Exception):
    """The server refused a call for good; ``status`` and ``code`` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class _Transient(Exception):
    """A failure worth another try."""


def _epoch(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def job_from_dict(doc: dict[str, Any]) -> Job:
    """A claimed job as the server sent it (its public JSON shape)."""
    return Job(
        id=doc["id"],
        type=doc["type"],
        queue=doc["queue"],
        owner=doc.get("owner", ""),
        params=doc.get("params") or {},
        status=JobStatus(doc["status"]),
        priority=doc.get("priority", 0),
        progress=doc.get("progress", 0),
        step=doc.get("step"),
        message=doc.get("message"),
        attempts=doc["attempts"],
        max_attempts=doc["max_attempts"],
        dedupe_key=doc.get("dedupe_key"),
        cancel_reason=doc.get("cancel_reason"),
        created_at=_epoch(doc.get("created_at")) or 0.0,
        started_at=_epoch(doc.get("started_at")),
        last_seq=doc.get("last_event_id", 0),
    )


class WorkerLink:
    """One registered remote worker's calls to the genq server at ``url``."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        claim_wait_s: float = 5.0,
        timeout_s: float = 30.0,
        retry_s: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.claim_wait_s = claim_wait_s
        self.retry_s = retry_s
        self.worker_id: str | None = None
        self.lease_s = 30.0
        self.heartbeat_s = 10.0
        # The attempt of each job this worker holds, for uploads (which name only a key).
        self.attempts: dict[str, int] = {}
        self._registration: dict[str, Any] | None = None
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"X-API-Key": token, "User-Agent": "genq-remote-worker"},
            # The read timeout covers a long poll's wait.
            timeout=httpx.Timeout(timeout_s + claim_wait_s, connect=min(timeout_s, 10.0)),
            transport=transport,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- calls -----------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One protocol call, retried while the failure is transient; its JSON answer."""
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_Transient),
                wait=wait_random_exponential(multiplier=0.2, max=5.0),
                stop=stop_after_delay(self.retry_s),
                reraise=True,
            ):
                with attempt:
                    return await self._once(method, path, **kwargs)
        except _Transient as exc:
            raise StoreUnavailable(f"genq at {self.url} unreachable: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _Transient(repr(exc)) from exc
        if response.status_code in _TRANSIENT:
            raise _Transient(f"{response.status_code} from {path}")
        if response.status_code >= 400:
            try:
                error = response.json()  # genq's envelope: {error, message, code, ...}
            except ValueError:
                error = None
            if not isinstance(error, dict):
                error = {}
            message = str(error.get("message", response.text[:200]))
            if error.get("details") is not None:
                message += f" {orjson.dumps(error['details']).decode()[:500]}"
            raise LinkError(response.status_code, str(error.get("code", "HTTP_ERROR")), message)
        return response.json() if response.content else None

    def _path(self, suffix: str = "") -> str:
        if self.worker_id is None:
            raise RuntimeError("register the worker first")
        return f"/v1/workers/{self.worker_id}{suffix}"

    async def register(
        self,
        name: str,
        queues: Sequence[str],
        capabilities: Sequence[str] = (),
        max_concurrency: int = 1,
        health_url: str | None = None,
    ) -> str:
        """Register this worker; keep its id and the lease and heartbeat it must keep."""
        body: dict[str, Any] = {
            "name": name,
            "queues": list(queues),
            "capabilities": list(capabilities),
            "max_concurrency": max_concurrency,
        }
        if health_url:
            body["health_url"] = health_url
        self._registration = body
        return await self._join()

    async def _join(self) -> str:
        """Register as ``_registration`` says; keep the id, lease and heartbeat given."""
        answer = await self._call("POST", "/v1/workers", json=self._registration)
        self.worker_id = str(answer["id"])
        self.lease_s = float(answer["leaseSeconds"])
        self.heartbeat_s = float(answer["heartbeatSeconds"])
        return self.worker_id

    async def upload(self, job_id: str, name: str, data: bytes, content_type: str) -> StoredBlob:
        """Store an output file of a running attempt on the server; where it is served."""
        attempt = self.attempts.get(job_id)
        if attempt is None:
            raise LinkError(409, "LEASE_LOST", f"job {job_id} is not running here")
        answer = await self._call(
            "PUT",
            self._path(f"/jobs/{job_id}/files/{name}"),
            params={"attempt": attempt},
            content=data,
            headers={"Content-Type": content_type},
        )
        return StoredBlob(
            f"{job_prefix(job_id)}{name}", answer["url"], answer["size"], content_type
        )

    # --- what the worker runtime calls (AttemptStore) ----------------------------------------

    async def claim_jobs(
        self, queues: Sequence[str], worker: str, limit: int, lease_s: float
    ) -> tuple[list[Job], list[Event]]:
        """Claim up to ``limit`` jobs, waiting up to ``claim_wait_s`` for the first."""
        body = {"max": limit, "wait_s": self.claim_wait_s}
        try:
            answer = await self._call("POST", self._path("/claim"), json=body)
        except LinkError as exc:
            if exc.code != "WORKER_NOT_FOUND" or self._registration is None:
                raise
            # The server no longer knows this worker (its registry was reset): join again.
            old = self.worker_id
            new = await self._join()
            log.warning("worker %s unknown to the server; registered again as %s", old, new)
            return [], []
        jobs = [job_from_dict(doc) for doc in answer["jobs"]]
        for job in jobs:
            self.attempts[job.id] = job.attempts
        return jobs, []

    async def renew_leases(
        self, worker: str, attempts: dict[str, int], lease_s: float
    ) -> LeaseState:
        """A heartbeat: leases renewed, cancels requested, leases lost."""
        answer = await self._call("POST", self._path("/heartbeat"), json={"attempts": attempts})
        for job_id in answer["lost"]:
            self.attempts.pop(job_id, None)
        return LeaseState(answer["renewed"], answer["cancel"], answer["lost"])

    async def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[Event]:
        """One flush of the worker's writes as one ``batch`` call; the events of those the
        server took. A write the server refused, or that could not be delivered within
        the retries, counts as not written (its lease is gone, or will be)."""
        batch = [_to_wire(w) for w in writes]
        refused: dict[str, str] = {}
        try:
            answer = await self._call("POST", self._path("/batch"), json={"writes": batch})
        except (LinkError, StoreUnavailable) as exc:
            log.warning("%d writes not delivered: %s", len(writes), exc)
            written: set[str] = set()
        else:
            written, refused = set(answer["written"]), answer["refused"]
            for job_id, why in refused.items():
                log.warning("job %s: the server refused the write (%s)", job_id, why)
        now = time.time()
        taken: list[Event] = []
        for w in writes:
            if w.job_id not in written:
                if w.job_id in refused or w.action is not None:
                    self.attempts.pop(w.job_id, None)
                continue
            taken.extend(Event(w.job_id, 0, kind, data, now) for kind, data in w.events)
            if w.action is not None:
                self.attempts.pop(w.job_id, None)
        return taken

    async def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """Remote attempts keep no checkpoints: each starts from the beginning."""
        return None

    async def save_checkpoint(self, job_id: str, data: dict[str, Any]) -> None:
        """Nothing is kept (see :meth:`load_checkpoint`)."""


_ENDS = {
    Action.COMPLETE: "complete",
    Action.BACKOFF: "fail",  # the worker's policy would retry; the server's decides
    Action.FAIL: "fail",
    Action.ABORT: "cancelled",
    Action.REQUEUE: "release",
}


def _to_wire(write: AttemptWrite) -> dict[str, Any]:
    """An attempt write as the protocol's batch carries it: the worker's own events, and
    the ending (genq writes the job's life events itself)."""
    doc: dict[str, Any] = {
        "job_id": write.job_id,
        "attempt": write.attempt,
        "events": [
            {"type": kind, "data": data}
            for kind, data in write.events
            if kind not in RESERVED_EVENTS
        ],
    }
    if write.action is None:
        return doc
    doc["end"] = _ENDS[write.action]
    if write.action == Action.COMPLETE:
        doc["result"] = write.values.get("result")
    elif doc["end"] == "fail":
        error = write.values["error"]
        doc["error"] = {k: error[k] for k in ("code", "message", "details") if k in error}
        doc["retryable"] = write.action == Action.BACKOFF
    return doc


class LinkBlobs:
    """The blob store of a remote worker: files go to the server, into the job's folder."""

    name = "genq"

    def __init__(self, link: WorkerLink) -> None:
        self.link = link

    async def put(self, key: str, data: bytes, content_type: str) -> StoredBlob:
        """Upload ``jobs/{job id}/{name}`` through the protocol's files call."""
        parts = check_key(key).split("/")
        if len(parts) != 3 or parts[0] != "jobs":
            raise ValueError(f"a remote worker stores only jobs/{{job}}/{{name}} keys, not {key!r}")
        return await self.link.upload(parts[1], parts[2], data, content_type)

    async def get(self, key: str) -> tuple[bytes, str] | None:
        """Files are read from the server's URLs, not through the worker."""
        raise NotImplementedError("a remote worker cannot read genq's blob store")

    async def delete_prefix(self, prefix: str) -> int:
        """genq deletes a job's files when it cleans the job."""
        raise NotImplementedError("a remote worker cannot delete from genq's blob store")

    def url(self, key: str) -> str:
        """Known only once the server stored the file (see :meth:`put`)."""
        raise NotImplementedError("a remote worker learns a file's URL when it uploads it")

    async def close(self) -> None:
        """Nothing to close: the link is closed by its owner."""
