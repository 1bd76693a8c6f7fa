"""Single flight: however many tasks ask for one key at once, one coroutine does the work and
they all get its outcome.

The work runs as its own task so that a caller giving up (cancellation, a timeout) does not
cancel it for everyone else who is waiting.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Dict, Generic, Hashable, Optional, TypeVar

T = TypeVar("T")


def _retrieve(task: "asyncio.Task[object]") -> None:
    # Marks the outcome as seen, so a flight whose callers all gave up does not log
    # "exception was never retrieved".
    if not task.cancelled():
        task.exception()


class SingleFlight(Generic[T]):
    """Per-key flights. Not thread-safe: one instance belongs to one event loop."""

    def __init__(self) -> None:
        self._flights: Dict[Hashable, "asyncio.Task[T]"] = {}

    def in_flight(self, key: Hashable) -> bool:
        return key in self._flights

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """Joins the flight for `key`, starting it with `work()` when none is out."""
        task: Optional["asyncio.Task[T]"] = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fly(key, work))
            task.add_done_callback(_retrieve)
            self._flights[key] = task
        return await asyncio.shield(task)

    async def _fly(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        finally:
            self._flights.pop(key, None)
