"""Wake-ups between processes: in-memory and PostgreSQL LISTEN/NOTIFY buses."""

from __future__ import annotations

from genq.bus.base import CONTROL, EVENTS, JOBS, SCHEDULE, Bus, EventRef
from genq.bus.memory import MemoryBus

__all__ = ["CONTROL", "EVENTS", "JOBS", "SCHEDULE", "Bus", "EventRef", "MemoryBus"]
