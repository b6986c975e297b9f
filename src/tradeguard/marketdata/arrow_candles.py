"""Feather candles the fast way: whole columns as numpy arrays, checked at once.

A clean file (no nulls, finite values, low <= open/close <= high, volume >= 0, strictly rising
times) is read column-wise and each distinct price is converted to `Decimal` once, then shared
by every candle that holds it (prices repeat a lot at a tick of 1e-8). The values are the ones
the row-by-row loader gives (the same 15-significant-digit conversion). Anything else returns
None and the caller reads the file row by row, which names the first bad row and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context
from itertools import repeat
from pathlib import Path
from typing import Any

from tradeguard.marketdata.checks import EARLIEST_OPEN_MS, LATEST_OPEN_MS, time_scale
from tradeguard.marketdata.data_files import interval_from_name, interval_from_times
from tradeguard.model.market import Candle

PRICE_COLUMNS = ("open", "high", "low", "close")
_PER_MS = {"s": -1000, "ms": 1, "us": 1000, "ns": 1_000_000}
# A context that rounds nothing a 15-digit text can hold: its create_decimal gives Decimal(text)
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def fast_feather_candles(
    path: Path, table: Any, time_col: str, symbol: str
) -> ColumnCandles | None:
    """Return the candles of a clean table, or None to send the caller down the checked path."""
    columns = clean_columns(path, table, time_col)
    return None if columns is None else candles_of_columns(columns, symbol)


def clean_columns(path: Path, table: Any, time_col: str) -> dict[str, Any] | None:
    """The checked columns of a clean table, ready for `candles_of_columns`, or None.

    Plain values only (numpy arrays, text, ints): they cross a process boundary as they are
    (a backtest reads its files in a second process while the first imports). Each distinct
    price and volume is kept as the text its `Decimal` is made from, one per line."""
    import numpy as np
    import pyarrow as pa

    columns = [table.column(c) for c in (time_col, *PRICE_COLUMNS, "volume")]
    if table.num_rows == 0 or any(c.null_count for c in columns):
        return None
    ts = _ms_array(columns[0])
    if ts is None or not all(pa.types.is_float64(c.type) for c in columns[1:]):
        return None
    if ts.min() < EARLIEST_OPEN_MS or ts.max() >= LATEST_OPEN_MS:
        return None  # the row-by-row path names the first time out of range
    values = [_numpy(c, np.float64) for c in columns[1:]]
    o, h, low, c, v = values
    with np.errstate(invalid="ignore"):
        ok = (low > 0) & (low <= o) & (o <= h) & (low <= c) & (c <= h) & (v >= 0)
        ok &= (h <= 1e18) & (v <= 1e18)  # data_files.MAX_FIGURE; also refuses inf and NaN
    if not ok.all() or (len(ts) > 1 and not (np.diff(ts) > 0).all()):
        return None
    distinct, index = np.unique(np.concatenate(values[:4]), return_inverse=True)
    n = len(ts)
    stamps = ts.tolist()
    interval = interval_from_name(path) or (interval_from_times(path, stamps) if n > 1 else 60)
    prices, price_floats = _texts(distinct)
    volumes, volume_floats = _texts(v)
    return {
        "ts": ts.astype(np.int64, copy=True), "at": index.reshape(4, n), "interval": interval,
        "prices": prices, "price_floats": price_floats,
        "volumes": volumes, "volume_floats": volume_floats,
    }  # fmt: skip


def candles_of_columns(columns: dict[str, Any], symbol: str) -> ColumnCandles:
    """The candles of `clean_columns`'s figures, with those columns kept (`ColumnCandles`)."""
    ts, at, interval = columns["ts"], columns["at"], columns["interval"]
    n = len(ts)
    exact = _EXACT.create_decimal  # Decimal(text), no keyword parsing: the same digits
    prices = list(map(exact, columns["prices"].split("\n")))
    volumes = list(map(exact, columns["volumes"].split("\n")))
    opens, highs, lows, closes = (list(map(prices.__getitem__, row)) for row in at.tolist())
    out = ColumnCandles(
        _candles((repeat(symbol, n), ts.tolist(), opens, highs, lows, closes, volumes,
                  repeat(interval, n), repeat("", n)))
    )  # fmt: skip
    out.columns = {"ts": ts}
    price_floats = columns["price_floats"]
    for name, where in zip(PRICE_COLUMNS, at, strict=True):
        out.columns[name] = price_floats[where]
    out.columns["volume"] = columns["volume_floats"]
    return out


class _Layout:
    """Candle's memory layout (the same slots, in order) without its frozen `__setattr__`: a
    candle is built as one of these, its fields set by plain attribute stores, then given its
    class (`_candles`). Checked against Candle at import (`_check_layout`)."""

    __slots__ = Candle.__slots__


# the fields `_candles` stores, in Candle's order: a field added to Candle would be left unset
_STORED = ("symbol", "ts", "open", "high", "low", "close", "volume", "interval_s", "venue")


def _check_layout() -> None:
    """Candle must stay a plain slotted record of `_Layout`'s fields, in that order, each of
    them one `_candles` stores, with no construction of its own that the loader would skip."""
    names = tuple(f.name for f in fields(Candle))
    if (
        hasattr(Candle, "__post_init__")
        or names != Candle.__slots__
        or names != _STORED
        or Candle.__new__ is not object.__new__
        or Candle.__bases__ != (object,)
    ):
        raise TypeError("Candle is no longer a plain slotted record: build candles with Candle()")


_check_layout()


def _candles(columns: Sequence[Iterable[Any]]) -> list[Candle]:
    """`[Candle(*values) for values in zip(*columns)]` for values already checked. A frozen
    dataclass's __init__ sets each field through object.__setattr__, and the slots' own
    setters mapped over whole columns pay a call (and an argument tuple) per field: each
    candle is built as a `_Layout` by stores the interpreter does inline, then made a Candle
    by a class assignment (the same layout: Python checks it). 40k candles, callgrind: about
    2,700 instructions a candle against 5,400 through the setters mapped over the columns.
    tests/test_marketdata_arrow_candles.py compares the candles."""
    out: list[Candle] = []
    add, new, cls = out.append, object.__new__, Candle
    for sym, ts, o, h, lo, cl, v, span, venue in zip(*columns, strict=True):
        c: Any = new(_Layout)  # each field stored apart (no tuple packed and unpacked)
        c.symbol = sym
        c.ts = ts
        c.open = o
        c.high = h
        c.low = lo
        c.close = cl
        c.volume = v
        c.interval_s = span
        c.venue = venue
        c.__class__ = cls
        add(c)
    return out


class ColumnCandles(list[Candle]):
    """Candles of one file (one symbol, one interval) with the columns of their values: ts as
    int64, OHLCV as float64 (`float(candle.close)`...), which the loader has at hand; a
    backtest's frames take them instead of converting every Decimal."""

    columns: dict[str, Any]

    def window(self, lo: int, hi: int) -> ColumnCandles:
        """The candles [lo:hi] with their columns."""
        out = ColumnCandles(self[lo:hi])
        out.columns = {k: v[lo:hi] for k, v in self.columns.items()}
        return out


def columns_of(candles: Sequence[Candle]) -> dict[str, Any] | None:
    """The loaded columns of `candles`, while they still match the list (it may have been
    changed since loading); None for a plain list."""
    if isinstance(candles, ColumnCandles) and len(candles.columns["ts"]) == len(candles):
        return candles.columns
    return None


def _texts(values: Any) -> tuple[str, Any]:
    """Each value as the loader's Decimal text (15 significant digits), one per line, and as
    that text's float."""
    import numpy as np

    # "%.15g" % x is format(x, ".15g") (the same conversion) at half the cost per value
    texts = list(map("%.15g".__mod__, values.tolist()))
    return "\n".join(texts), np.array(list(map(float, texts)), dtype=np.float64)


def _numpy(column: Any, dtype: Any) -> Any:
    """A null-free fixed-width column as a numpy view of its buffer.

    Not `ChunkedArray.to_numpy()`: that imports pandas when it is installed (60 ms, 35 MiB).
    """
    import numpy as np

    arr = column.combine_chunks()
    width = np.dtype(dtype).itemsize
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * width)


def _ms_array(column: Any) -> Any:
    """A time column as int64 epoch ms (integers as ms, or as microseconds: `time_scale`), or
    None for another type."""
    import numpy as np
    import pyarrow as pa

    # Timestamps are int64 underneath: read the buffer, no cast (pyarrow.compute costs 10 MiB).
    if pa.types.is_int64(column.type) or pa.types.is_timestamp(column.type):
        raw = _numpy(column, np.int64)
    elif pa.types.is_integer(column.type):
        raw = _numpy(column.cast(pa.int64()), np.int64)
    else:
        return None
    if not pa.types.is_timestamp(column.type):
        # integers are ms, or microseconds for the whole column when its first reads so (a
        # column mixing units is then out of range here: the row-by-row path names the row)
        return raw // 1000 if len(raw) and time_scale(int(raw[0])) != 1 else raw
    per_ms = _PER_MS[column.type.unit]
    return raw * -per_ms if per_ms < 0 else raw // per_ms
