"""A periodic duty: ``run_once`` in a loop, surviving store outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

log = logging.getLogger("genq.maintenance")


class Maintenance(ABC):
    """Runs :meth:`run_once` every ``interval_s`` (or sooner when :meth:`poke`-d)."""

    name = "maintenance"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> int:
        """Do the duty once; return how many jobs it touched."""

    async def next_wait(self) -> float:
        """Seconds until the next run; subclasses that know better say so."""
        return self.interval_s

    def poke(self) -> None:
        """Run again soon."""
        self._poke.set()

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._loop(), name=f"genq-{self.name}")

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
                wait = await self.next_wait()
            except Exception as exc:
                log.warning("%s failed: %s", self.name, exc)
                wait = self.interval_s
            self._poke.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), wait)
