"""Clocks: wall time for live trading, simulated time for paper replays and backtests."""

from __future__ import annotations

import time


class Clock:
    """Milliseconds since the epoch; the only source of 'now' in the engine."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class SimulatedClock(Clock):
    """Time that moves only when the replay says so."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, ts_ms: int) -> None:
        if ts_ms > self._now:
            self._now = ts_ms
