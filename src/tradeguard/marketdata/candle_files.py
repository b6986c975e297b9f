"""Candle files: OHLCV CSV, Binance kline CSV and freqtrade feather."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.marketdata.arrow_candles import clean_columns, fast_feather_candles
from tradeguard.marketdata.checks import (
    EARLIEST_OPEN_MS,
    EARLIEST_OPEN_US,
    LATEST_OPEN_MS,
    LATEST_OPEN_US,
    TimeOrder,
    open_time_error,
    read_csv_text,
    time_scale,
)
from tradeguard.marketdata.data_files import (
    EPOCH,
    KLINE_FIELDS,
    OHLCV_HEADER,
    ONE_MS,
    SATOSHI,
    PathLike,
    arrow_rows,
    bar_columns,
    bar_error,
    check_bar,
    diagnose,
    existing,
    field_count_error,
    int_value,
    interval_from_name,
    interval_from_times,
    num_value,
    read_arrow,
    require,
    symbol_from_path,
    to_satoshi,
    utc_text_ms,
)
from tradeguard.marketdata.errors import DataFileError
from tradeguard.model.market import Candle
from tradeguard.model.money import dec

# The longest span a kline row may have: Binance's longest interval (1M) spans 31 days at most.
MAX_KLINE_SPAN_S = 31 * 86_400


def load_candles(
    path: PathLike, symbol: str | None = None, volume_unit: str | None = None
) -> list[Candle]:
    """Load OHLCV bars from a header CSV, a Binance kline CSV or a freqtrade feather file.

    `volume_unit` says what the file's volume column counts: "quote" (converted to base as
    volume / close) or "base". By default the header CSV (FTX export layout) is quote and the
    other formats are base.
    """
    p = existing(path)
    if p.suffix.lower() == ".feather":  # as loaded: a fast load keeps its float columns
        _check_unit(volume_unit)
        return _load_feather_candles(p, symbol or symbol_from_path(p), volume_unit == "quote")
    return list(iter_candles(p, symbol, volume_unit))


def _check_unit(volume_unit: str | None) -> None:
    if volume_unit not in (None, "quote", "base"):
        raise ValueError(f"volume_unit={volume_unit!r}: use 'quote', 'base' or None")


def iter_candles(
    path: PathLike, symbol: str | None = None, volume_unit: str | None = None
) -> Iterator[Candle]:
    """Yield the bars `load_candles` returns, one at a time, parsing CSV rows as they are asked for.

    For a caller that interleaves a long load with other work (the replay shares its event loop
    with the API). A bad row raises when the iteration reaches it.
    """
    p = existing(path)
    _check_unit(volume_unit)
    sym = symbol or symbol_from_path(p)
    suffix = p.suffix.lower()
    if suffix == ".feather":
        return iter(_load_feather_candles(p, sym, volume_unit == "quote"))
    if suffix in (".csv", ".txt"):
        text = read_csv_text(p)
        if text.lstrip()[0].isdigit():
            return _iter_kline_csv(p, text, sym, volume_unit == "quote")
        interval = interval_from_name(p)
        bars = _iter_ohlcv_csv(p, text, sym, volume_unit != "base", interval or 60)
        return bars if interval is not None else _with_inferred_interval(p, bars)
    raise DataFileError(p, f"unknown candle format {suffix!r}; expected .csv or .feather")


def _iter_ohlcv_csv(
    path: Path, text: str, symbol: str, quote_volume: bool, interval: int
) -> Iterator[Candle]:
    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:6] != OHLCV_HEADER:
            raise DataFileError(path, f"header {header!r} is not {','.join(OHLCV_HEADER)}", row=1)
        # For text, dec() is Decimal(text); calling Decimal directly halves the load time. Failed
        # rows are re-parsed through dec() by bar_error to name the bad column.
        d = Decimal
        parse_ts = datetime.fromisoformat
        epoch, ms = EPOCH, ONE_MS
        quant = SATOSHI
        fields = len(header)
        order = TimeOrder(path)
        last_ts = -(2**63)
        prev: Candle | None = None
        prev_line = rows = 0
        for line, rec in enumerate(reader, start=2):
            try:
                ts = (parse_ts(rec[0]) - epoch) // ms
                o, h, low, c, v = d(rec[1]), d(rec[2]), d(rec[3]), d(rec[4]), d(rec[5])
                check_bar(o, h, low, c, v)
            except (ValueError, ArithmeticError, IndexError, TypeError):
                raise bar_error(path, line, rec, utc_text_ms) from None
            if len(rec) != fields:
                raise field_count_error(path, line, rec, fields)
            if not EARLIEST_OPEN_MS <= ts < LATEST_OPEN_MS:
                raise open_time_error(path, line, "timestamp", rec[0], ts)
            if quote_volume:
                v = v / c  # to 8 places where Decimal's 28 digits hold them (1e12 / 1e-10 not)
                v = v.quantize(quant) if v.adjusted() < 20 else v
            bar = Candle(symbol, ts, o, h, low, c, v, interval)
            if ts <= last_ts and not order.keep(bar, line, rec[0], prev, prev_line):  # type: ignore[arg-type]
                continue
            last_ts, prev, prev_line = ts, bar, line
            rows += 1
            yield bar
        order.finish(rows)


def _with_inferred_interval(path: Path, bars: Iterator[Candle]) -> Iterator[Candle]:
    """Give `bars` the step seen in their first 200 timestamps (a lone bar keeps its own)."""
    head = list(itertools.islice(bars, 200))
    if len(head) < 2:
        yield from head
        return
    step = interval_from_times(path, [c.ts for c in head])
    for c in itertools.chain(head, bars):
        yield _with_interval(c, step)


def _with_interval(c: Candle, interval_s: int) -> Candle:
    return Candle(c.symbol, c.ts, c.open, c.high, c.low, c.close, c.volume, interval_s)


def _iter_kline_csv(path: Path, text: str, symbol: str, quote_volume: bool) -> Iterator[Candle]:
    order = TimeOrder(path)
    last_ts = -(2**63)
    prev: Candle | None = None
    prev_line = rows = 0
    # the file's unit (what one ms holds: 1, or 1000 for microseconds), set by its first row
    scale = first = 0
    lo, hi = EARLIEST_OPEN_MS, LATEST_OPEN_MS
    with io.StringIO(text, newline="") as fh:
        for line, rec in enumerate(csv.reader(fh), start=1):
            if not rec:
                continue
            try:
                ts = int(rec[0])
                close_ts = int(rec[6])
                o, h, low, c = dec(rec[1]), dec(rec[2]), dec(rec[3]), dec(rec[4])
                # Column 7 is the quote asset volume, column 5 the base volume.
                v = dec(rec[7]) / c if quote_volume else dec(rec[5])
                check_bar(o, h, low, c, v)
            except (ValueError, ArithmeticError, IndexError):
                cols = [*bar_columns(int_value), ("close_time", int_value)]
                raise diagnose(path, line, rec, cols) from None
            if len(rec) != KLINE_FIELDS:
                raise field_count_error(path, line, rec, KLINE_FIELDS)
            if not scale:
                scale, first = time_scale(ts), line
                lo, hi = EARLIEST_OPEN_MS * scale, LATEST_OPEN_MS * scale
            if not lo <= ts < hi:
                raise open_time_error(path, line, "open_time", rec[0], ts, first, scale)
            if scale != 1:  # to ms, as Candle times are (Binance's times are whole ms)
                ts //= scale
                close_ts //= scale
            interval = _span_s(close_ts + 1 - ts)
            if not 1 <= interval <= MAX_KLINE_SPAN_S:  # a close in another unit lands here
                _check_close_unit(path, line, rec[6], scale, first)
            if interval < 1:  # a bar closing before it opens would replay out of order
                raise DataFileError(
                    path,
                    f"the close time must be at least 1 s after the open time {ts}",
                    row=line,
                    column="close_time",
                    value=rec[6],
                )
            if interval > MAX_KLINE_SPAN_S:  # its close would move the replay clock that far
                raise DataFileError(
                    path,
                    f"the close time must be at most {MAX_KLINE_SPAN_S} s after the open time "
                    f"{ts} (31 days, the longest kline: 1M)",
                    row=line,
                    column="close_time",
                    value=rec[6],
                )
            if quote_volume:
                v = to_satoshi(v)
            bar = Candle(symbol, ts, o, h, low, c, v, interval)
            if ts <= last_ts and not order.keep(bar, line, rec[0], prev, prev_line):  # type: ignore[arg-type]
                continue
            last_ts, prev, prev_line = ts, bar, line
            rows += 1
            yield bar
    order.finish(rows)


def _check_close_unit(path: Path, line: int, value: str, scale: int, first: int) -> None:
    """Refuse a close time not in the file's unit (set by row `first`'s open time)."""
    close = int(value)
    if scale != 1 and close < EARLIEST_OPEN_US:
        unit, reads = "microseconds", "milliseconds or less"
    elif scale == 1 and EARLIEST_OPEN_US <= close < LATEST_OPEN_US:
        unit, reads = "milliseconds", "microseconds"
    else:
        return
    raise DataFileError(
        path,
        f"the close time is not in {unit}, as row {first}'s open time is (it reads as {reads}): "
        "write every time of the file in one unit",
        row=line,
        column="close_time",
        value=value,
    )


def feather_columns(path: Path) -> dict[str, Any] | None:
    """The checked columns of a clean feather candle file (see `clean_columns`), or None for
    a file that `load_candles` reads row by row; raises what `load_candles` would."""
    table, time_col, _ = _feather_table(path)
    return clean_columns(path, table, time_col)


def _feather_table(path: Path) -> tuple[Any, str, list[str]]:
    table = read_arrow(path, "feather")
    time_col = "date" if "date" in table.column_names else "timestamp"
    cols = [time_col, "open", "high", "low", "close", "volume"]
    require(path, table, cols)
    return table, time_col, cols


def _load_feather_candles(path: Path, symbol: str, quote_volume: bool) -> list[Candle]:
    table, time_col, cols = _feather_table(path)
    if not quote_volume:
        fast = fast_feather_candles(path, table, time_col, symbol)
        if fast is not None:
            return fast
    import pyarrow as pa

    out: list[Candle] = []
    order = TimeOrder(path)
    prev_row = 0
    # integers are ms, or microseconds as the first row's read (a typed column: its own unit)
    scale = 0 if pa.types.is_integer(table.column(time_col).type) else 1
    first = None
    for row, vals in arrow_rows(path, table, cols, time_col):
        try:
            ts = int_value(vals[0], time_col)
            o, h, low, c, v = (num_value(x, n) for x, n in zip(vals[1:], cols[1:], strict=True))
            check_bar(o, h, low, c, v)
        except (ValueError, ArithmeticError, TypeError):
            raise bar_error(path, row, vals, int_value) from None
        if not scale:
            scale, first = time_scale(ts), row
        if not EARLIEST_OPEN_MS * scale <= ts < LATEST_OPEN_MS * scale:
            raise open_time_error(path, row, time_col, vals[0], ts, first, scale)
        ts //= scale
        if quote_volume:
            v = to_satoshi(v / c)
        bar = Candle(symbol, ts, o, h, low, c, v)
        if out and ts <= out[-1].ts and not order.keep(bar, row, vals[0], out[-1], prev_row):
            continue
        prev_row = row
        out.append(bar)
    order.finish(len(out))
    interval = interval_from_name(path) or (
        interval_from_times(path, [c.ts for c in out]) if len(out) > 1 else 60
    )
    return [_with_interval(c, interval) for c in out]


def _span_s(span_ms: int) -> int:
    """`span_ms` in whole seconds, rounded half to even as `round(span_ms / 1000)`, in integers:
    a close time of hundreds of digits overflowed the float division."""
    q, r = divmod(span_ms, 1000)
    return q + (r > 500 or (r == 500 and q % 2 == 1))
