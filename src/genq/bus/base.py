"""The bus seam: wake-ups between processes. The store is the truth; the bus only wakes.

Three channels carry typed messages:

- ``events``: a list of :class:`Event` (or :class:`EventRef` when an event was too large to
  travel, for the listener to read from the store), published after their commit;
- ``jobs``: a list of queue names that have new ready work;
- ``control``: ``{"cancel": {job id: reason}}``, running jobs asked to stop;
- ``schedule``: the earliest ``run_at`` (epoch seconds) of jobs that just became delayed,
  so schedulers can wake sooner than planned.

A message published in a process is delivered to that process's handlers at once and, by
buses that reach other processes, to theirs.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("genq.bus")

EVENTS = "events"
JOBS = "jobs"
CONTROL = "control"
SCHEDULE = "schedule"
CHANNELS = (EVENTS, JOBS, CONTROL, SCHEDULE)

Handler = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class EventRef:
    """An event known only by its place: read it from the store."""

    job_id: str
    seq: int


class Bus(ABC):
    """Publish and subscribe to the three channels."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {c: [] for c in CHANNELS}

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect, where there is anything to connect to."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""

    def subscribe(self, channel: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(message)`` for every message on ``channel``; returns the unsubscriber."""
        handlers = self._handlers[channel]
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def _deliver(self, channel: str, message: Any) -> None:
        for handler in list(self._handlers[channel]):
            try:
                handler(message)
            except Exception:
                log.exception("bus handler failed on %s", channel)

    @abstractmethod
    async def publish(self, channel: str, message: Any) -> None:
        """Send ``message`` to every subscriber of ``channel``, here and elsewhere."""
