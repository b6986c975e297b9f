"""Candle aggregation: resample bars to a longer interval, incrementally or in one pass.

Bars are aligned to UTC multiples of the interval (a 4h bar opens at 00:00, 04:00, ...). A
bucket with no input produces no bar, so gaps stay gaps. The first and last bar of a series may
be built from fewer inputs than a full bucket holds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from tradeguard.model.market import Candle, TradeTick


def _check_interval(interval_s: int, source_s: int | None = None) -> int:
    if interval_s <= 0:
        raise ValueError(f"interval_s={interval_s}: must be a positive number of seconds")
    if source_s is not None and interval_s % source_s:
        raise ValueError(
            f"interval_s={interval_s} is not a multiple of the input bars' {source_s}s; "
            "pick a multiple (e.g. 300 for 1m input)"
        )
    return interval_s * 1000


class CandleAggregator:
    """Build `interval_s` bars from shorter bars of one symbol, fed in time order."""

    def __init__(self, interval_s: int) -> None:
        self.interval_s = interval_s
        self._span_ms = _check_interval(interval_s)
        self._bar: list[Candle] = []
        self._start = 0
        self._ready: deque[Candle] = deque()

    def update(self, candle: Candle) -> Candle | None:
        """Add one input bar; return the oldest completed output bar not yet returned."""
        self._ready.extend(self.update_all(candle))
        return self._ready.popleft() if self._ready else None

    def update_all(self, candle: Candle) -> list[Candle]:
        """Add one input bar; return every output bar it completes (two when a gap ends)."""
        # Queued bars from `update` come first so order is kept whichever method is used.
        done = list(self._ready)
        self._ready.clear()
        span = self._span_ms
        if self.interval_s % candle.interval_s:
            _check_interval(self.interval_s, candle.interval_s)
        start = candle.ts - candle.ts % span
        bar = self._bar
        if bar:
            if candle.symbol != bar[0].symbol:
                raise ValueError(
                    f"bar for {candle.symbol} fed to the {bar[0].symbol} aggregator; "
                    "use one aggregator per symbol"
                )
            if candle.ts <= bar[-1].ts:
                raise ValueError(
                    f"{candle.symbol}: bar at {candle.ts} is not after the last one "
                    f"({bar[-1].ts}); feed bars in time order"
                )
            if start != self._start:
                done.append(_merge(bar, self._start, self.interval_s))
                bar = self._bar = []
        self._start = start
        bar.append(candle)
        # A bucket is complete as soon as its last input closes; emit without waiting.
        if candle.close_ts >= start + span:
            done.append(_merge(bar, start, self.interval_s))
            self._bar = []
        return done

    def flush(self) -> Candle | None:
        """Return the bar still being built (possibly partial) and start afresh."""
        if self._ready:
            return self._ready.popleft()
        if not self._bar:
            return None
        bar = _merge(self._bar, self._start, self.interval_s)
        self._bar = []
        return bar


def _merge(bars: list[Candle], start: int, interval_s: int) -> Candle:
    first = bars[0]
    high, low = first.high, first.low
    volume = Decimal(0)
    for b in bars:
        if b.high > high:
            high = b.high
        if b.low < low:
            low = b.low
        volume += b.volume
    return Candle(first.symbol, start, first.open, high, low, bars[-1].close, volume, interval_s)


def aggregate(candles: Iterable[Candle], interval_s: int) -> list[Candle]:
    """Resample time-ordered bars of one symbol to `interval_s` bars aligned to UTC."""
    agg = CandleAggregator(interval_s)
    out: list[Candle] = []
    for candle in candles:
        out.extend(agg.update_all(candle))
    last = agg.flush()
    if last is not None:
        out.append(last)
    return out


def candles_from_trades(trades: Iterable[TradeTick], interval_s: int) -> list[Candle]:
    """Build `interval_s` bars from time-ordered trades (volume = summed base amounts)."""
    span = _check_interval(interval_s)
    out: list[Candle] = []
    symbol = ""
    start = -1
    o = h = low = c = vol = Decimal(0)
    for t in trades:
        bucket = t.ts - t.ts % span
        if start >= 0 and t.symbol != symbol:
            raise ValueError(f"trade for {t.symbol} mixed into {symbol} trades")
        if bucket != start:
            if start >= 0:
                out.append(Candle(symbol, start, o, h, low, c, vol, interval_s))
            if bucket < start:
                raise ValueError(f"trade {t.trade_id} at {t.ts} goes back in time; sort trades")
            symbol, start = t.symbol, bucket
            o = h = low = c = t.price
            vol = Decimal(0)
        price = t.price
        if price > h:
            h = price
        elif price < low:
            low = price
        c = price
        vol += t.amount
    if start >= 0:
        out.append(Candle(symbol, start, o, h, low, c, vol, interval_s))
    return out
