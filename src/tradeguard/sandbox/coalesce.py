"""Book feeds that publish once per event-loop turn, whatever number of changes it saw."""

from __future__ import annotations

import asyncio


class CoalescedFeed:
    """Collect the keys (markets) a book reports changed; `flush` them once per loop turn.

    Without a running loop (a synchronous caller) each change is flushed at once.
    """

    def __init__(self) -> None:
        self._dirty: set[str] = set()
        self._scheduled = False

    def changed(self, key: str) -> None:
        self._dirty.add(key)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def take_dirty(self) -> list[str]:
        """The keys changed since the last flush, sorted; the next change schedules anew."""
        self._scheduled = False
        dirty, self._dirty = self._dirty, set()
        return sorted(dirty)

    def flush(self) -> None:
        raise NotImplementedError
