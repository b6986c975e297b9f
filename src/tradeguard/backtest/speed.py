"""Hold a replay to N times real time on its simulated clock.

```python
speed = ReplaySpeed(60)                 # one simulated minute per wall-clock second
for candle in candles:
    await speed.wait_until(candle.close_ts)
    ...
```

The first event anchors the two clocks; every later event waits until the wall clock has moved
(event time - anchor) / speed. A replay that falls behind (slow strategy, busy machine) does not
sleep, so it catches up instead of drifting further.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

MAX_NAP_S = 0.5  # longest single sleep, so that a stop or kill is noticed within it


class ReplaySpeed:
    """Pace events so that simulated time runs `speed` times faster than the wall clock."""

    def __init__(
        self,
        speed: float,
        wall: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"replay speed {speed} must be > 0 (0 means unpaced: no ReplaySpeed)")
        self.speed = speed
        self._wall = wall
        self._sleep = sleep
        self._anchor: tuple[int, float] | None = None

    def due_s(self, sim_ms: int) -> float:
        """Return the seconds to wait before the event at `sim_ms` (0 when it is due)."""
        if self._anchor is None:
            self._anchor = (sim_ms, self._wall())
            return 0.0
        sim0, wall0 = self._anchor
        return max(0.0, wall0 + (sim_ms - sim0) / 1000 / self.speed - self._wall())

    async def wait_until(
        self, sim_ms: int, between: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        """Sleep until the event at `sim_ms` is due; `between` returning True ends the wait."""
        delay = self.due_s(sim_ms)
        while delay > 0:
            await self._sleep(min(delay, MAX_NAP_S))
            if between is not None and await between():
                return
            delay = self.due_s(sim_ms)
