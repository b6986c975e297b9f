"""Candles for a backtest: each `[[data]]` file cut to a date window and resampled to a timeframe.

```python
tf = parse_timeframe("15m")                       # 900
series = load_series(config, parse_date("2018-01-15"), None, tf)
frame = to_frame(series["ETH/BTC"])               # {"ts": ..., "close": ...} numpy arrays
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tradeguard.config import TIMEFRAME_S, Config
from tradeguard.marketdata.arrow_candles import ColumnCandles, candles_of_columns, columns_of
from tradeguard.marketdata.candle_files import load_candles
from tradeguard.marketdata.candles import aggregate
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import parse_utc
from tradeguard.model.market import Candle

if TYPE_CHECKING:
    from tradeguard.backtest.prefetch import Prefetched

TIMEFRAMES = TIMEFRAME_S  # name -> seconds
Frame = dict[str, Any]  # column name -> numpy array (ts int64, prices float64)


def parse_timeframe(text: str | None) -> int | None:
    """Return a timeframe's seconds (`5m` -> 300), None for none, or raise naming the choices."""
    if text is None or text == "":
        return None
    seconds = TIMEFRAMES.get(text)
    if seconds is None:
        raise ConfigError(f"--timeframe {text!r}: not one of {', '.join(TIMEFRAMES)}")
    return seconds


def parse_date(text: str | None, field: str = "--from") -> int | None:
    """Return a UTC date or datetime (`2018-01-15`, `2018-01-15T12:00`) as epoch ms."""
    return parse_utc(text, field)


def cut(candles: Sequence[Candle], start_ms: int | None, end_ms: int | None) -> list[Candle]:
    """Return the candles opening at or after `start_ms` and closing by `end_ms` (either bound
    may be None): a candle closing after the end holds prices from after it."""
    lo = 0 if start_ms is None else _first_at(candles, start_ms)
    hi = len(candles) if end_ms is None else _first_at(candles, end_ms)
    if end_ms is not None and not isinstance(candles, ColumnCandles):
        # a file may mix spans: a coarse bar closing after the end among finer ones before it
        return [c for c in candles[lo:hi] if c.ts + c.interval_s * 1000 <= end_ms]
    while end_ms is not None and hi > lo and candles[hi - 1].close_ts > end_ms:
        hi -= 1  # one span (a feather file's columns): the last bars close in order
    if isinstance(candles, ColumnCandles):
        return candles.window(lo, hi)
    return list(candles[lo:hi])


def resample(candles: list[Candle], interval_s: int | None, where: str) -> list[Candle]:
    """Aggregate candles up to `interval_s`; the same interval is kept; a shorter one refused."""
    if interval_s is None or not candles or candles[0].interval_s == interval_s:
        return candles
    source = candles[0].interval_s
    if interval_s < source or interval_s % source:
        raise ConfigError(
            f"--timeframe {interval_s}s: {where} holds {source}s candles; pick a multiple of "
            f"{source}s (candles are aggregated up, never split)"
        )
    return aggregate(candles, interval_s)


def load_series(
    config: Config, start_ms: int | None, end_ms: int | None, interval_s: int | None
) -> dict[str, list[Candle]]:
    """Load every candle `[[data]]` file, cut to the window and resampled; keyed by symbol."""
    from tradeguard.backtest import prefetch
    from tradeguard.node import resolve_data_path

    prefetched = prefetch.collect()  # read by a second process, if the command started one
    out: dict[str, list[Candle]] = {}
    for dc in config.data:
        if dc.kind != "candles":
            raise ConfigError(f"data {dc.path}: kind {dc.kind!r}; a backtest replays candles")
        path = str(resolve_data_path(dc.path, config.source_dir))
        candles = _cached_candles(path, dc.symbol, prefetched)
        out[dc.symbol] = _within(
            resample(cut(candles, start_ms, end_ms), interval_s, dc.path), start_ms, end_ms
        )
        if out[dc.symbol]:
            check_bar_timeframes(dc.path, dc.timeframes, out[dc.symbol][0].interval_s)
    return out


def _within(bars: list[Candle], start_ms: int | None, end_ms: int | None) -> list[Candle]:
    """`bars` without a longer bar built from the part of it inside the window: the first
    opening before the start, the last closing after the end (a window's bound inside a
    bucket of `--timeframe`)."""
    lo = 1 if start_ms is not None and bars and bars[0].ts < start_ms else 0
    hi = len(bars) - (1 if end_ms is not None and bars and bars[-1].close_ts > end_ms else 0)
    return bars if (lo, hi) == (0, len(bars)) else bars[lo:hi]


def check_bar_timeframes(where: str, timeframes: Sequence[str], source_s: int) -> None:
    """Refuse a `[[data]] timeframes` entry that is not a multiple of the candles replayed."""
    for tf in timeframes:
        seconds = TIMEFRAME_S[tf]
        if seconds < source_s or seconds % source_s:
            raise ConfigError(
                f"data {where}: timeframes {tf!r} ({seconds}s) is not a multiple of the "
                f"{source_s}s candles replayed; list only longer multiples (bars are built up, "
                "never split)"
            )


_CACHE: dict[tuple[str, str], tuple[int, list[Candle]]] = {}
_CACHE_FILES = 64


def _cached_candles(path: str, symbol: str, prefetched: Prefetched | None = None) -> list[Candle]:
    """Load a candle file once per process (a sweep worker runs many combinations on it), from
    the columns a second process read when it has them for the file as it is now."""
    import os

    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = -1  # the loader names the missing file
    hit = _CACHE.get((path, symbol))
    if hit is not None and hit[0] == mtime:
        return hit[1]
    read = (prefetched or {}).get(path)
    if read is not None and read[0] == _stamp(path):
        candles: list[Candle] = candles_of_columns(read[1], symbol)
    else:
        candles = load_candles(path, symbol=symbol)
    if len(_CACHE) >= _CACHE_FILES:
        _CACHE.clear()
    _CACHE[(path, symbol)] = (mtime, candles)
    return candles


def _stamp(path: str) -> Any:
    from tradeguard.backtest.prefetch import stamp

    try:
        return stamp(path)
    except OSError:
        return None


def to_frame(candles: Sequence[Candle]) -> Frame:
    """Return one pair's candles as numpy columns: ts (int64 ms) and float64 OHLCV."""
    columns = columns_of(candles)
    if columns is not None:
        return {k: v.copy() for k, v in columns.items()}  # as loaded, copied
    return {
        "ts": np.fromiter((c.ts for c in candles), dtype=np.int64, count=len(candles)),
        "open": np.fromiter((c.open for c in candles), dtype=np.float64, count=len(candles)),
        "high": np.fromiter((c.high for c in candles), dtype=np.float64, count=len(candles)),
        "low": np.fromiter((c.low for c in candles), dtype=np.float64, count=len(candles)),
        "close": np.fromiter((c.close for c in candles), dtype=np.float64, count=len(candles)),
        "volume": np.fromiter((c.volume for c in candles), dtype=np.float64, count=len(candles)),
    }


def _first_at(candles: Sequence[Candle], ts: int) -> int:
    lo, hi = 0, len(candles)
    while lo < hi:
        mid = (lo + hi) // 2
        if candles[mid].ts < ts:
            lo = mid + 1
        else:
            hi = mid
    return lo
