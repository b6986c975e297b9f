"""Replay recorded market events in time order on a simulated clock, at full or paced speed.

Streams must each be in time order; they are merged lazily with `heapq.merge`. An event's
replay time is `event_time(event)`: `ts` for ticks, quotes and book events, but `close_ts` for
candles, because a bar's high, low and close are only known once it has closed (replaying at
the open would leak the future into the strategy).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.errors import ReplayOrderError
from tradeguard.model.market import Candle


class Timed(Protocol):
    @property
    def ts(self) -> int: ...


Sleep = Callable[[float], Awaitable[Any]]


def event_time(event: Timed) -> int:
    """Return the epoch ms at which an event becomes known (a candle's close, else `ts`)."""
    if isinstance(event, Candle):
        return event.close_ts
    return event.ts


def merge_streams(*streams: Iterable[Any]) -> Iterator[Any]:
    """Merge time-ordered streams into one, earliest first (ties keep stream order)."""
    last = None
    for event in heapq.merge(*streams, key=event_time):
        t = event_time(event)
        if last is not None and t < last:
            raise ReplayOrderError(
                f"event at {t} follows one at {last}: an input stream is not sorted by time; "
                "sort each stream before replay"
            )
        last = t
        yield event


def replay_sync(streams: Iterable[Iterable[Any]], clock: SimulatedClock) -> Iterator[Any]:
    """Yield merged events at full speed, advancing `clock` to each event's time first."""
    for event in merge_streams(*streams):
        clock.advance_to(event_time(event))
        yield event


async def replay(
    streams: Iterable[Iterable[Any]],
    clock: SimulatedClock,
    speed: float = 0,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Any]:
    """Yield merged events, pausing between them: speed 0 = no pause, 1 = real time, N = N x.

    The pause before an event is the simulated time since the previous event divided by
    `speed`; `sleep` is injectable so tests can record the delays instead of waiting.
    """
    if speed < 0:
        raise ValueError(f"speed={speed}: use 0 (full speed), 1 (real time) or N > 0 (N x)")
    previous: int | None = None
    for event in merge_streams(*streams):
        t = event_time(event)
        if speed > 0 and previous is not None and t > previous:
            await sleep((t - previous) / 1000 / speed)
        previous = t
        clock.advance_to(t)
        yield event
