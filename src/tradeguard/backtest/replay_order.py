"""The order every replay hands candles to strategies in: by close time, then bar span.

A bar is known only when it closes, so a coarser bar comes after the finer bars within it: a
5m bar opening at t (closing at t+5m) after the 1m bars opening at t..t+4m (the last of them
closing with it, the finer first). Ties of close time and span keep the order of the series
(as configured), then the order within a series (as filed).

The paper replay and a backtest streaming its series merge lazily (`merged_by_close`): the
series' iterators are read as the merge is asked for candles, so a replay parsing its files on
the event loop keeps pausing for the API. A backtest's bulk merge (`bulk.merge_with_plan`) sorts
its loaded columns by the same key (`close_order`); both give one sequence.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from tradeguard.model.market import Candle


def close_key(candle: Candle) -> tuple[int, int]:
    """The replay order's key: close time (ms), then span (s); ties keep series, then file order."""
    return candle.ts + candle.interval_s * 1000, candle.interval_s


def by_close(candles: Iterable[Candle]) -> Iterator[Candle]:
    """One series (ordered by open time) in `close_key` order, read lazily.

    A bar is held back while a bar read later may still close before it: every bar still to
    come opens at or after the last one read, so it closes after that open, and a held bar
    closing by then is final. One timeframe holds back one bar at a time (`last`); a coarser bar
    among finer ones, those within it too (a heap of close, span, file order, bar).
    """
    held: list[tuple[int, int, int, Candle]] = []
    push, pop = heapq.heappush, heapq.heappop
    last: Candle | None = None  # the one bar held while `held` is empty
    last_close = n = 0  # n: the file order of the next bar read
    for c in candles:
        ts = c.ts
        if not held:
            if last is None or last_close <= ts:  # one timeframe: the held bar is final
                if last is not None:
                    yield last
                last, last_close = c, ts + c.interval_s * 1000
                n += 1
                continue
            held.append((last_close, last.interval_s, n - 1, last))
            last = None
        while held and held[0][0] <= ts:
            yield pop(held)[3]
        span = c.interval_s
        push(held, (ts + span * 1000, span, n, c))
        n += 1
        if len(held) == 1:
            last_close, _, _, last = held.pop()
    if last is not None:
        yield last
    while held:
        yield pop(held)[3]


def merged_by_close(series: Iterable[Iterable[Candle]]) -> Iterator[Candle]:
    """Every candle of `series` (each ordered by open time) in `close_key` order, lazily: a heap
    merge over the series' `by_close` iterators, ties in series order."""
    streams = [by_close(s) for s in series]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=close_key)


def close_order(stamps: Any, spans_ms: Any) -> Any:
    """The bulk merge's permutation: the indices of the concatenated series' candles (open
    times `stamps`, spans `spans_ms`, int64 arrays in ms) in `close_key` order, stable."""
    import numpy as np

    closes = stamps + spans_ms
    if len(spans_ms) and spans_ms.min() == spans_ms.max():  # one span: the close decides
        return np.argsort(closes, kind="stable")
    return np.lexsort((spans_ms, closes))
