"""Strategies with a vectorised hook: indicators over a whole pair at once, the same in live.

```python
class EmaCross(FrameStrategy):
    def prepare(self, frame):                    # numpy columns in, columns out
        frame["fast"] = ema(frame["close"], 12)
        frame["slow"] = ema(frame["close"], 26)
        return frame

    def on_row(self, candle, row):               # row: this candle's values of every column
        if row["fast"] > row["slow"]: ...
```

A backtest calls `precompute(candles)` once with the pair's whole series, so `prepare` runs
once over it. Without that (paper replays, live trading) every candle is appended to a rolling
window of `window` candles and `prepare` runs over the window; the candle's row is the last one.
Indicators with a memory shorter than the window (EMA, SMA, RSI...) give the same values both
ways; a test pins that the signals match.

`timeframes = ("1h",)` also hands the strategy `on_bar(interval_s, bar)` for every completed bar
of those longer timeframes, aggregated from the candles it receives.

`frame_type = "pandas"` hands `prepare` a pandas DataFrame instead (columns open, high, low,
close, volume as float64; a UTC DatetimeIndex of the candles' open times) and takes one back.
pandas is optional (`pip install 'tradeguard[frames]'`); without it such a strategy is refused
with that advice when it is built.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from tradeguard.backtest.frames import TIMEFRAMES, Frame, to_frame
from tradeguard.marketdata.candles import CandleAggregator
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle
from tradeguard.strategies.base import Strategy
from tradeguard.strategies.exits import ExitRules

FRAME_TYPES = ("numpy", "pandas")


def ema(values: Any, span: int) -> Any:
    """Return the exponential moving average (alpha 2 / (span + 1)), seeded with the first value."""
    xs = np.asarray(values, dtype=np.float64)
    if not len(xs):
        return np.empty_like(xs)
    alpha = 2.0 / (span + 1)
    keep = 1.0 - alpha
    acc = float(xs[0])
    # a list made an array once: a numpy item set per value costs a fifth more
    out: list[float] = []
    append = out.append
    for x in xs.tolist():
        acc = alpha * x + keep * acc
        append(acc)
    return np.array(out, dtype=np.float64)


class FrameStrategy(Strategy):
    """A strategy whose indicators come from `prepare(frame)`; it acts in `on_row`."""

    window = 500  # candles kept for the incremental path
    timeframes: tuple[str, ...] = ()
    # a backtest's --from: a bar of `timeframes` opening before it (built from part of its
    # bucket) is not handed to `on_bar`
    bars_from_ms: int | None = None
    frame_type = "numpy"  # or "pandas": what `prepare` receives and returns
    # Columns of `prepare` that carry this strategy's signals. Naming them is a promise: while
    # its symbol holds nothing (no open order of it, no position, no base asset), `on_row` does
    # nothing on a row where all of them are 0, so that a backtest may skip such rows
    # (backtest/bulk.py). Empty: every row is delivered.
    signal_columns: tuple[str, ...] = ()
    # While its position is open (and no order of its symbol works), the columns of `prepare`
    # that carry its exit signals; `exit_rules` the stop-loss and take-profit it also exits on.
    # Naming them (an empty tuple too) is a second promise: on a row where all of them are 0
    # and the close lies strictly inside the rules' band around the entry, `on_row` does nothing,
    # so that a backtest may skip the rows of a held position too (backtest/bulk.py). None:
    # every row of a held position is delivered (as are all with a trailing stop).
    exit_columns: tuple[str, ...] | None = None
    exit_rules: ExitRules | None = None

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        if self.frame_type not in FRAME_TYPES:
            raise ConfigError(
                f"strategy {strategy_id}: frame_type {self.frame_type!r} is not one of "
                f"{', '.join(FRAME_TYPES)}"
            )
        if self.frame_type == "pandas":
            _pandas(strategy_id)  # refuse now, not at the first candle
        self.warmup_candles = max(self.warmup_candles, self.window)
        self._rows: dict[int, int] = {}
        self._pre: dict[str, Sequence[Any]] | None = None
        self._recent: deque[Candle] = deque(maxlen=self.window)
        self._series: Sequence[Candle] = ()
        self._skipped: Candle | None = None
        self._exit_rows: Any = None  # (close, exit signal) numpy columns, built on first use
        self._quiet: tuple[Decimal, bool, int, int] | None = None  # entry, long, rows [lo, hi)
        self._aggs = [CandleAggregator(TIMEFRAMES[tf]) for tf in self.timeframes]

    # to override -------------------------------------------------------------------------------
    def prepare(self, frame: Frame) -> Frame:
        """Add indicator columns to `frame` (numpy arrays of equal length) and return it."""
        return frame

    def on_row(self, candle: Candle, row: Row) -> None:
        """Act on one closed candle with its row of `prepare`'s columns."""

    def on_bar(self, interval_s: int, bar: Candle) -> None:
        """Called for every completed bar of a timeframe named in `timeframes`."""

    # driving -----------------------------------------------------------------------------------
    def precompute(self, candles: Sequence[Candle]) -> None:
        """Run `prepare` once over the pair's whole series (what a backtest does)."""
        self._pre = self._prepared(candles)
        stamps = self._pre["ts"]
        self._rows = dict(zip(stamps, range(len(stamps)), strict=True))
        self._series = candles
        self._exit_rows = self._quiet = None

    def signal_rows(self) -> Any:
        """Which precomputed rows carry a signal (numpy bools), or None when it cannot be said."""
        pre = self._pre
        if pre is None or not self.signal_columns or self.timeframes:
            return None
        rows = np.zeros(len(pre["ts"]), dtype=bool)
        for name in self.signal_columns:
            rows |= _flags(self.id, "signal_columns", name, pre[name])
        return rows

    def holds_quietly(self, candle: Candle, entry: Decimal, long: bool) -> bool:
        """Tell whether `on_row` does nothing on `candle` while a position entered at `entry`
        is open (as `exit_columns` and `exit_rules` promise); False when it cannot be said."""
        index = self._rows.get(candle.ts) if self._pre is not None else None
        if index is None or self.exit_columns is None:
            return False
        quiet = self._quiet
        if quiet is None or quiet[:2] != (entry, long) or not quiet[2] <= index <= quiet[3]:
            end = self._next_exit_row(index, entry, long)
            if end is None:
                return False
            quiet = self._quiet = (entry, long, index, end)
        return index < quiet[3]

    def _next_exit_row(self, start: int, entry: Decimal, long: bool) -> int | None:
        """The first row from `start` where a position entered at `entry` may exit: an exit
        signal, or a close at or beyond a level (widened by a hair: `on_row` decides exactly)."""
        rules = self.exit_rules
        if rules is not None and rules.trailing_stop_pct:
            return None  # its level follows every close
        columns = self._exit_columns()
        if columns is None:
            return None
        close, signal = columns
        stop, take = (
            (None, None) if rules is None else _decimal_rules(self.id, rules).levels(entry, long)
        )
        low, high = (stop, take) if long else (take, stop)
        below = -math.inf if low is None else float(low) + abs(float(low)) * 1e-9
        above = math.inf if high is None else float(high) - abs(float(high)) * 1e-9
        # A position lasts tens of rows: a plain loop beats numpy's per-call overhead here.
        for k in range(start, len(close)):
            px = close[k]
            if px <= below or px >= above or signal[k]:
                return k
        return len(close)

    def _exit_columns(self) -> tuple[Any, Any] | None:
        """The close and "any exit signal" columns of the precomputed rows (lists)."""
        if self._exit_rows is None:
            pre = self._pre
            names = self.exit_columns or ()
            if pre is None or any(name not in pre for name in names):
                return None
            close = to_frame(self._series)["close"]  # the candles' own, whatever `prepare` did
            signal = np.zeros(len(close), dtype=bool)
            for name in names:
                signal |= _flags(self.id, "exit_columns", name, pre[name])
            self._exit_rows = (close.tolist(), signal.tolist())
        return self._exit_rows

    def skipped_through(self, candle: Candle) -> None:
        """The backtest skipped this strategy's candles up to `candle` (none had a signal)."""
        self._skipped = candle

    def row_for(self, candle: Candle) -> Row:
        """Return `prepare`'s values for `candle`: precomputed, else over the rolling window."""
        pre = self._pre
        if pre is not None:
            index = self._rows.get(candle.ts)
            if index is not None:
                return Row(pre, index)
        recent = self._recent
        if not recent or recent[-1] is not candle:
            recent.append(candle)
        columns = self._prepared(recent)
        return Row({k: v[-1:] for k, v in columns.items()}, 0)

    def _refill(self, through: Candle) -> None:
        """Rebuild the rolling window as if every skipped candle had been appended."""
        end = self._rows[through.ts] + 1
        self._recent.clear()
        self._recent.extend(self._series[max(0, end - self.window) : end])
        self._skipped = None

    def _prepared(self, candles: Sequence[Candle]) -> dict[str, Sequence[Any]]:
        """Run `prepare` over `candles` in the frame type asked for; return its columns."""
        frame = to_frame(candles)
        if self.frame_type == "pandas":
            return _from_pandas(self.prepare(_to_pandas(frame, self.id)))
        return {k: _column(v) for k, v in self.prepare(frame).items()}

    def on_candle(self, candle: Candle) -> None:
        if self._skipped is not None:
            self._refill(self._skipped)
        self._recent.append(candle)  # also when precomputed: a later candle falls back to it
        for agg in self._aggs:
            for bar in agg.update_all(candle):
                if self.bars_from_ms is None or bar.ts >= self.bars_from_ms:
                    self.on_bar(agg.interval_s, bar)
        pre = self._pre  # row_for's precomputed case, read here: it runs on every candle
        index = self._rows.get(candle.ts) if pre is not None else None
        if pre is None or index is None:
            self.on_row(candle, self.row_for(candle))
        else:
            self.on_row(candle, Row(pre, index))


class Row:
    """One candle's values of every column `prepare` returned: `row["fast"]`."""

    __slots__ = ("_columns", "_index")

    def __init__(self, columns: dict[str, Sequence[Any]], index: int) -> None:
        self._columns = columns
        self._index = index

    def __getitem__(self, name: str) -> Any:
        return self._columns[name][self._index]

    def get(self, name: str, default: Any = None) -> Any:
        column = self._columns.get(name)
        return default if column is None else column[self._index]

    def to_dict(self) -> dict[str, Any]:
        return {k: v[self._index] for k, v in self._columns.items()}


def _decimal_rules(strategy_id: str, rules: ExitRules) -> ExitRules:
    """`rules` with Decimal percentages: ExitTracker compares floats and ints as well, but
    `levels` computes with them (a float times a Decimal is a TypeError)."""
    out = []
    for name in ("stop_loss_pct", "take_profit_pct"):
        value = getattr(rules, name)
        try:
            pct = Decimal(str(value)) if value else Decimal(0)
            if not pct.is_finite():
                raise ArithmeticError
            out.append(pct)
        except ArithmeticError:  # decimal.InvalidOperation, or NaN / infinity
            raise ConfigError(
                f"strategy {strategy_id}: exit_rules.{name}={str(value)[:40]!r} is not a finite "
                "number (a percentage of the entry price, e.g. Decimal('2'))"
            ) from None
    return ExitRules(stop_loss_pct=out[0], take_profit_pct=out[1])


def _flags(strategy_id: str, field: str, name: str, values: Sequence[Any]) -> Any:
    """Which rows of a declared signal column are set (not 0; NaN counts as set); a column of
    something else than numbers or booleans is refused, naming its first such value."""
    try:
        return np.asarray(values, dtype=np.float64) != 0
    except (TypeError, ValueError):
        for k, value in enumerate(values):
            try:
                float(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"strategy {strategy_id}: {field} names column {name!r}, whose row {k} "
                    f"holds {str(value)[:40]!r}: a signal column must hold numbers or booleans "
                    "(0 or False: no signal)"
                ) from None
        raise


def _column(values: Any) -> Any:
    """A column as a compact sequence whose items are plain Python numbers or objects.

    float64 and int64 numpy columns become `array.array` (8 bytes a value, a third of a list
    of floats; items come out as Python floats and ints); anything else a list.
    """
    dtype = getattr(values, "dtype", None)
    if dtype == np.float64:
        return array("d", np.ascontiguousarray(values).tobytes())
    if dtype == np.int64:
        return array("q", np.ascontiguousarray(values).tobytes())
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _pandas(strategy_id: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise ConfigError(
            f"strategy {strategy_id}: frame_type 'pandas' needs pandas, which is not installed; "
            "install it (pip install 'tradeguard[frames]') or use frame_type 'numpy'"
        ) from None
    return pandas


def _to_pandas(frame: Frame, strategy_id: str) -> Any:
    pd = _pandas(strategy_id)
    index = pd.DatetimeIndex(pd.to_datetime(frame["ts"], unit="ms", utc=True), name="time")
    names = ("open", "high", "low", "close", "volume")
    return pd.DataFrame({k: frame[k] for k in names}, index=index)


def _from_pandas(df: Any) -> dict[str, Sequence[Any]]:
    """Columns of a DataFrame `prepare` returned, with "ts" (epoch ms) from its time index."""
    pd = _pandas("?")
    if not isinstance(df, pd.DataFrame) or not isinstance(df.index, pd.DatetimeIndex):
        raise ConfigError(
            f"prepare returned {type(df).__name__}: a pandas strategy must return the DataFrame "
            "it was given (or one with the same time index), with its columns added"
        )
    out: dict[str, Sequence[Any]] = {"ts": _column(df.index.as_unit("ms").asi8)}
    for name in df.columns:
        out[str(name)] = _column(df[name].to_numpy())
    return out
