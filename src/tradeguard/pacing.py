"""Share one event loop between long CPU work (a replay, a file load) and what else it runs.

```python
pacer = Pacer()                            # pause after every 0.5 ms of uninterrupted work
candles = await pacer.collect(stream)      # a long parse, in slices
for c in candles:
    ...
    if pacer.due():
        await pacer.pause()
```

A replay shares its loop with the API, the alert queue and the WebSocket stream: each of them
waits for the replay's next pause. Pausing after a slice of time rather than a count of candles
bounds that wait however much one candle costs (orders, fills, journal commits). A pause gives
the loop two turns, as an HTTP request needs one to be read and one to be answered: a request
then waits for the end of the current slice, not for two. A pause with nothing else to run costs
a few µs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

SLICE_S = 0.0005  # seconds of work between pauses

T = TypeVar("T")


class Pacer:
    """Tell long CPU work when it has held the event loop for a slice, and pause it."""

    __slots__ = ("_clock", "_until", "slice_s")

    def __init__(
        self, slice_s: float = SLICE_S, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if not 0 < slice_s <= 1:
            raise ValueError(f"slice_s={slice_s} must be > 0 and <= 1 (seconds)")
        self.slice_s = slice_s
        self._clock = clock
        self._until = clock() + slice_s

    def due(self) -> bool:
        """Tell whether the current slice is used up."""
        return self._clock() >= self._until

    async def pause(self) -> None:
        """Let other ready work run for two turns of the loop, then start a new slice."""
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self._until = self._clock() + self.slice_s

    async def collect(self, items: Iterable[T]) -> list[T]:
        """Return `list(items)`, pausing between slices of the iteration."""
        out: list[T] = []
        append = out.append
        for item in items:
            append(item)
            if not len(out) & 31 and self.due():
                await self.pause()
        return out
