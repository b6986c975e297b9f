"""Historical market data loaders: candles, trades, quotes and order book events from files.

Formats (see the data directory's README):
- OHLCV CSV with header `timestamp,open,high,low,close,volume` (timestamp
  `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC). This layout is the FTX export, whose `volume` is
  quote (USD) volume; it is converted to base units as `volume / close`, rounded to 1e-8.
- Binance kline CSV without header (open time ms, o, h, l, c, base volume, close time ms, ...).
- freqtrade feather candles (`date` tz-aware, `open,high,low,close,volume` in base units).
- Trades parquet: freqtrade (`timestamp` ms, `id`, `side`, `price`, `amount`) or Binance
  (`timestamp`, `trade_id`, `price`, `quantity`, `buyer_maker`).
- Quotes parquet (`timestamp, symbol, ask_size, ask, bid_size, bid`).
- Book events: Binance futures depth CSV (`snap` rows -> one `BookSnapshot`, `set` rows ->
  one `BookDelta` per update-id batch), tardis `book_snapshot_25` CSV (one `BookSnapshot` per
  row, timestamps in microseconds), Bybit `ob500` zip of JSON lines (snapshot then deltas).

Every number enters as `Decimal` through `dec`; floats from binary files are read at 15
significant digits, which strips float noise from upstream arithmetic. Times are epoch
milliseconds, UTC. Symbols are unified (`BTC/USDT`), derived from the file name unless
`symbol=` is given. Row numbers in errors are 1-based file lines for
CSV files and 1-based records for binary files.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.marketdata.checks import TimeOrder, read_csv_text
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.events import BookDelta, BookEvent, BookSnapshot, Level
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import dec

PathLike = str | os.PathLike[str]

DATA_DIR_ENV = "TG_DATA_DIR"
_QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
_SATOSHI = Decimal("1e-8")
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_OHLCV_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
_KLINE_FIELDS = 12  # Binance kline CSV: open time .. ignore
_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# --- locating files ------------------------------------------------------------------------


def default_data_dir() -> Path:
    """Find the shared data directory: $TG_DATA_DIR, else ../shared/data from cwd or repo root."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataFileError(path, f"${DATA_DIR_ENV} points to no directory; fix or unset it")
        return path
    candidates = [Path.cwd() / ".." / "shared" / "data"]
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            candidates.append(parent.parent / "shared" / "data")
            break
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise DataFileError(
        candidates[0],
        f"no market data directory found (tried {tried}); set ${DATA_DIR_ENV} to the folder "
        "holding candles/, trades/ and orderbook/",
    )


def _existing(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            p,
            "file not found; check the path, or set $TG_DATA_DIR to the data directory "
            "(paths in the config are relative to it)",
        )
    return p


def symbol_from_path(path: PathLike) -> str:
    """Derive a unified symbol (`BTC/USDT`) from a data file name such as `ETH_BTC-5m.feather`."""
    name = Path(path).name.split(".")[0]
    tokens = [t for t in re.split(r"[_\-]", name) if re.fullmatch(r"[A-Z]{2,}", t)]
    if len(tokens) >= 2 and tokens[1] == "PERP":
        return f"{tokens[0]}/USD"
    if len(tokens) >= 2:
        return f"{tokens[0]}/{tokens[1]}"
    if len(tokens) == 1:
        pair = tokens[0]
        for quote in _QUOTE_ASSETS:
            if pair.endswith(quote) and len(pair) > len(quote):
                return f"{pair[: -len(quote)]}/{quote}"
    raise DataFileError(
        Path(path), "cannot tell the symbol from the file name; pass symbol='BASE/QUOTE'"
    )


def _interval_from_name(path: Path) -> int | None:
    for token in re.split(r"[_\-.]", path.name):
        m = re.fullmatch(r"(\d+)([smhdw])", token)
        if m:
            return int(m.group(1)) * _INTERVAL_UNITS[m.group(2)]
    return None


def _interval_from_times(path: Path, ts: Sequence[int]) -> int:
    steps = [b - a for a, b in itertools.pairwise(ts[:200]) if b > a]
    if not steps:
        raise DataFileError(path, "cannot tell the bar interval; name the file like 'X_1m.csv'")
    return min(steps) // 1000


# --- value parsing and row diagnosis --------------------------------------------------------


def _num(value: object, column: str) -> Decimal:
    if isinstance(value, float):
        # Binary files hold floats computed upstream (0.0529 stored as 0.052900000000000005);
        # 15 significant digits drop that noise and keep every real venue price exactly.
        value = format(value, ".15g")
    result = dec(value, column)
    if not result.is_finite():
        raise ValueError(f"{column}: {value!r} is not a finite number")
    return result


def _positive(value: object, column: str) -> Decimal:
    result = _num(value, column)
    if result <= 0:
        raise ValueError(f"{column}: {value!r} must be > 0")
    return result


def _non_negative(value: object, column: str) -> Decimal:
    result = _num(value, column)
    if result < 0:
        raise ValueError(f"{column}: {value!r} must be >= 0")
    return result


def _int(value: object, column: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{column}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"{column}: {value!r} is not an integer")


def _utc_text_ms(value: object, column: str) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{column}: {value!r} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{column}: {value!r} is not a timestamp like 2022-01-31 23:59:00"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta(0))
    return (moment - _EPOCH) // _MS


Parser = Callable[[object, str], object]


def _diagnose(
    path: Path, row: int, values: Sequence[object], columns: Sequence[tuple[str, Parser]]
) -> DataFileError:
    """Build the error for a row that failed the fast path, naming the first bad column."""
    if len(values) < len(columns):
        return DataFileError(
            path, f"expected at least {len(columns)} fields, got {len(values)}", row=row
        )
    for value, (name, parse) in zip(values, columns, strict=False):
        try:
            parse(value, name)
        except (ValueError, ArithmeticError) as exc:
            return DataFileError(path, str(exc), row=row, column=name, value=value)
    return DataFileError(path, "row could not be parsed", row=row)


def _check_bar(o: Decimal, h: Decimal, low: Decimal, c: Decimal, v: Decimal) -> None:
    # Comparisons also reject NaN (a signalling comparison raises InvalidOperation).
    if not (low > 0 and h >= low and v >= 0 and h.is_finite() and v.is_finite()):
        raise ValueError("bar out of range")
    if not (low <= o <= h and low <= c <= h):
        raise ValueError("open/close outside low..high")


def _bar_columns(ts_parser: Parser) -> list[tuple[str, Parser]]:
    return [
        ("timestamp", ts_parser),
        ("open", _positive),
        ("high", _positive),
        ("low", _positive),
        ("close", _positive),
        ("volume", _non_negative),
    ]


def _field_count_error(path: Path, row: int, rec: Sequence[str], expected: int) -> DataFileError:
    return DataFileError(
        path,
        f"expected {expected} fields, got {len(rec)}; the row may be cut short or joined",
        row=row,
        value=",".join(rec),
    )


def _bar_error(path: Path, row: int, values: Sequence[object], ts_parser: Parser) -> DataFileError:
    err = _diagnose(path, row, values, _bar_columns(ts_parser))
    if err.column is None and len(values) >= 6:
        o, h, low, c = (_num(v, "x") for v in values[1:5])
        err = DataFileError(
            path,
            f"inconsistent bar: open {o}, high {h}, low {low}, close {c} "
            "(need low <= open, close <= high)",
            row=row,
        )
    return err


# --- candles --------------------------------------------------------------------------------


def load_candles(
    path: PathLike, symbol: str | None = None, volume_unit: str | None = None
) -> list[Candle]:
    """Load OHLCV bars from a header CSV, a Binance kline CSV or a freqtrade feather file.

    `volume_unit` says what the file's volume column counts: "quote" (converted to base as
    volume / close) or "base". By default the header CSV (FTX export layout) is quote and the
    other formats are base.
    """
    return list(iter_candles(path, symbol, volume_unit))


def iter_candles(
    path: PathLike, symbol: str | None = None, volume_unit: str | None = None
) -> Iterator[Candle]:
    """Yield the bars `load_candles` returns, one at a time, parsing CSV rows as they are asked for.

    For a caller that interleaves a long load with other work (the replay shares its event loop
    with the API). A bad row raises when the iteration reaches it.
    """
    p = _existing(path)
    if volume_unit not in (None, "quote", "base"):
        raise ValueError(f"volume_unit={volume_unit!r}: use 'quote', 'base' or None")
    sym = symbol or symbol_from_path(p)
    suffix = p.suffix.lower()
    if suffix == ".feather":
        return iter(_load_feather_candles(p, sym, volume_unit == "quote"))
    if suffix in (".csv", ".txt"):
        text = read_csv_text(p)
        if text.lstrip()[0].isdigit():
            return _iter_kline_csv(p, text, sym, volume_unit == "quote")
        interval = _interval_from_name(p)
        bars = _iter_ohlcv_csv(p, text, sym, volume_unit != "base", interval or 60)
        return bars if interval is not None else _with_inferred_interval(p, bars)
    raise DataFileError(p, f"unknown candle format {suffix!r}; expected .csv or .feather")


def _iter_ohlcv_csv(
    path: Path, text: str, symbol: str, quote_volume: bool, interval: int
) -> Iterator[Candle]:
    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:6] != _OHLCV_HEADER:
            raise DataFileError(path, f"header {header!r} is not {','.join(_OHLCV_HEADER)}", row=1)
        # For text, dec() is Decimal(text); calling Decimal directly halves the load time. Failed
        # rows are re-parsed through dec() by _bar_error to name the bad column.
        d = Decimal
        parse_ts = datetime.fromisoformat
        epoch, ms = _EPOCH, _MS
        quant = _SATOSHI
        fields = len(header)
        order = TimeOrder(path)
        last_ts = -(2**63)
        prev: Candle | None = None
        prev_line = rows = 0
        for line, rec in enumerate(reader, start=2):
            try:
                ts = (parse_ts(rec[0]) - epoch) // ms
                o, h, low, c, v = d(rec[1]), d(rec[2]), d(rec[3]), d(rec[4]), d(rec[5])
                _check_bar(o, h, low, c, v)
            except (ValueError, ArithmeticError, IndexError, TypeError):
                raise _bar_error(path, line, rec, _utc_text_ms) from None
            if len(rec) != fields:
                raise _field_count_error(path, line, rec, fields)
            if quote_volume:
                v = (v / c).quantize(quant)
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
    step = _interval_from_times(path, [c.ts for c in head])
    for c in itertools.chain(head, bars):
        yield _with_interval(c, step)


def _with_interval(c: Candle, interval_s: int) -> Candle:
    return Candle(c.symbol, c.ts, c.open, c.high, c.low, c.close, c.volume, interval_s)


def _iter_kline_csv(path: Path, text: str, symbol: str, quote_volume: bool) -> Iterator[Candle]:
    order = TimeOrder(path)
    last_ts = -(2**63)
    prev: Candle | None = None
    prev_line = rows = 0
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
                _check_bar(o, h, low, c, v)
            except (ValueError, ArithmeticError, IndexError):
                cols = [*_bar_columns(_int), ("close_time", _int)]
                raise _diagnose(path, line, rec, cols) from None
            if len(rec) != _KLINE_FIELDS:
                raise _field_count_error(path, line, rec, _KLINE_FIELDS)
            interval = round((close_ts + 1 - ts) / 1000)
            if quote_volume:
                v = v.quantize(_SATOSHI)
            bar = Candle(symbol, ts, o, h, low, c, v, interval)
            if ts <= last_ts and not order.keep(bar, line, rec[0], prev, prev_line):  # type: ignore[arg-type]
                continue
            last_ts, prev, prev_line = ts, bar, line
            rows += 1
            yield bar
    order.finish(rows)


def _read_arrow(path: Path, kind: str) -> Any:
    try:
        if kind == "feather":
            import pyarrow.feather as feather

            return feather.read_table(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(path, f"cannot read as {kind}: {exc}") from None


def _require(path: Path, table: Any, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataFileError(path, f"missing columns {missing}; the file has {table.column_names}")


def _ms_values(path: Path, table: Any, column: str) -> list[Any]:
    """Return a time column as epoch ms ints, whatever its Arrow type (ints are taken as ms)."""
    import pyarrow as pa

    col = table.column(column)
    if pa.types.is_timestamp(col.type):
        per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[col.type.unit]
        ints = col.cast(pa.int64()).to_pylist()
        if per_ms is None:
            return [None if x is None else x * 1000 for x in ints]
        return [None if x is None else x // per_ms for x in ints]
    if pa.types.is_integer(col.type):
        return list(col.to_pylist())
    raise DataFileError(path, f"column {column!r} has type {col.type}; expected a timestamp")


def _arrow_rows(
    path: Path, table: Any, columns: Sequence[str], time_column: str
) -> Iterable[tuple[int, list[Any]]]:
    lists = [
        _ms_values(path, table, c) if c == time_column else table.column(c).to_pylist()
        for c in columns
    ]
    for i, values in enumerate(zip(*lists, strict=True), start=1):
        yield i, list(values)


def _load_feather_candles(path: Path, symbol: str, quote_volume: bool) -> list[Candle]:
    table = _read_arrow(path, "feather")
    time_col = "date" if "date" in table.column_names else "timestamp"
    cols = [time_col, "open", "high", "low", "close", "volume"]
    _require(path, table, cols)
    out: list[Candle] = []
    order = TimeOrder(path)
    prev_row = 0
    for row, vals in _arrow_rows(path, table, cols, time_col):
        try:
            ts = _int(vals[0], time_col)
            o, h, low, c, v = (_num(x, n) for x, n in zip(vals[1:], cols[1:], strict=True))
            _check_bar(o, h, low, c, v)
        except (ValueError, ArithmeticError, TypeError):
            raise _bar_error(path, row, vals, _int) from None
        if quote_volume:
            v = (v / c).quantize(_SATOSHI)
        bar = Candle(symbol, ts, o, h, low, c, v)
        if out and ts <= out[-1].ts and not order.keep(bar, row, vals[0], out[-1], prev_row):
            continue
        prev_row = row
        out.append(bar)
    order.finish(len(out))
    interval = _interval_from_name(path) or (
        _interval_from_times(path, [c.ts for c in out]) if len(out) > 1 else 60
    )
    return [_with_interval(c, interval) for c in out]


# --- trades and quotes ----------------------------------------------------------------------


def load_trades(path: PathLike, symbol: str | None = None) -> list[TradeTick]:
    """Load public trades from a freqtrade or Binance trades parquet file."""
    p = _existing(path)
    sym = symbol or symbol_from_path(p)
    table = _read_arrow(p, "parquet")
    names = set(table.column_names)
    side_of: Parser
    if {"id", "side", "amount"} <= names:
        cols = ["timestamp", "id", "price", "amount", "side"]
        side_of = _side
    elif {"trade_id", "quantity", "buyer_maker"} <= names:
        cols = ["timestamp", "trade_id", "price", "quantity", "buyer_maker"]
        side_of = _aggressor_side
    else:
        raise DataFileError(
            p,
            f"unknown trades schema {sorted(names)}; expected freqtrade (timestamp,id,side,price,"
            "amount) or Binance (timestamp,trade_id,price,quantity,buyer_maker) columns",
        )
    _require(p, table, cols)
    ts_col, id_col, price_col, amount_col, side_col = cols
    out: list[TradeTick] = []
    for row, (ts, tid, price, amount, side) in _arrow_rows(p, table, cols, "timestamp"):
        try:
            out.append(
                TradeTick(
                    sym,
                    _int(ts, ts_col),
                    str(_any(tid, id_col)),
                    _positive(price, price_col),
                    _positive(amount, amount_col),
                    str(side_of(side, side_col)),
                )
            )
        except (ValueError, ArithmeticError):
            checks = [(ts_col, _int), (id_col, _any), (price_col, _positive),
                      (amount_col, _positive), (side_col, side_of)]  # fmt: skip
            raise _diagnose(p, row, [ts, tid, price, amount, side], checks) from None
    return out


def _side(value: object, column: str) -> str:
    if value not in ("buy", "sell"):
        raise ValueError(f"{column} must be 'buy' or 'sell', got {value!r}")
    return str(value)


def _aggressor_side(value: object, column: str) -> str:
    # The buyer was the resting order, so the aggressor sold.
    return "sell" if _bool(value, column) else "buy"


def _any(value: object, column: str) -> object:
    if value is None:
        raise ValueError(f"{column}: value is missing")
    return value


def _bool(value: object, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("True", "true", "1"):
        return True
    if value in ("False", "false", "0"):
        return False
    raise ValueError(f"{column}: {value!r} is not True/False")


def load_quotes(path: PathLike, symbol: str | None = None) -> list[Quote]:
    """Load best bid/ask quotes from a parquet file (timestamp, ask_size, ask, bid_size, bid)."""
    p = _existing(path)
    sym = symbol or symbol_from_path(p)
    table = _read_arrow(p, "parquet")
    cols = ["timestamp", "bid", "bid_size", "ask", "ask_size"]
    _require(p, table, cols)
    checks: list[tuple[str, Parser]] = [
        ("timestamp", _int),
        ("bid", _positive),
        ("bid_size", _non_negative),
        ("ask", _positive),
        ("ask_size", _non_negative),
    ]
    out: list[Quote] = []
    for row, (ts, bid, bid_size, ask, ask_size) in _arrow_rows(p, table, cols, "timestamp"):
        try:
            out.append(
                Quote(
                    sym,
                    _int(ts, "timestamp"),
                    _positive(bid, "bid"),
                    _non_negative(bid_size, "bid_size"),
                    _positive(ask, "ask"),
                    _non_negative(ask_size, "ask_size"),
                )
            )
        except (ValueError, ArithmeticError):
            raise _diagnose(p, row, [ts, bid, bid_size, ask, ask_size], checks) from None
    return out


# --- order book events ----------------------------------------------------------------------


def load_book_events(
    path: PathLike | Sequence[PathLike], symbol: str | None = None
) -> list[BookEvent]:
    """Load book snapshots and deltas from one file or several in order (e.g. snapshot, updates).

    Accepts Binance depth CSVs, tardis `book_snapshot_*` CSVs and Bybit `ob500` zips.
    """
    if not isinstance(path, (str, os.PathLike)):
        events: list[BookEvent] = []
        for one in path:
            events.extend(load_book_events(one, symbol))
        return events
    p = _existing(path)
    sym = symbol or symbol_from_path(p)
    if p.suffix.lower() == ".zip":
        return _load_bybit_zip(p, sym)
    with p.open(newline="") as fh:
        header = fh.readline().strip().split(",")
    if header[:3] == ["symbol", "timestamp", "first_update_id"]:
        return _load_binance_depth(p, sym)
    if header[:4] == ["exchange", "symbol", "timestamp", "local_timestamp"]:
        return _load_tardis_snapshots(p, sym, header)
    raise DataFileError(
        p,
        "unknown book format; expected a Binance depth CSV, a tardis snapshot CSV or a "
        "Bybit ob500 .zip",
        row=1,
    )


_DEPTH_COLUMNS: list[tuple[str, Parser]] = [
    ("symbol", _any),
    ("timestamp", _int),
    ("first_update_id", _int),
    ("last_update_id", _int),
    ("side", _any),
    ("update_type", _any),
    ("price", _positive),
    ("qty", _non_negative),
    ("pu", _int),
]


def _load_binance_depth(path: Path, symbol: str) -> list[BookEvent]:
    events: list[BookEvent] = []
    batch_key: tuple[str, int, int, int, int] | None = None
    bids: list[Level] = []
    asks: list[Level] = []

    def flush() -> None:
        if batch_key is None:
            return
        kind, ts, first, last, pu = batch_key
        if kind == "snap":
            events.append(BookSnapshot(symbol, ts, last, tuple(bids), tuple(asks)))
        else:
            prev = pu if pu >= 0 else None
            events.append(BookDelta(symbol, ts, last, tuple(bids), tuple(asks), first, prev))

    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for line, rec in enumerate(reader, start=2):
            try:
                key = (rec[5], int(rec[1]), int(rec[2]), int(rec[3]), int(rec[8]))
                level = (_positive(rec[6], "price"), _non_negative(rec[7], "qty"))
                side = rec[4]
                if side not in ("b", "a") or key[0] not in ("snap", "set"):
                    raise ValueError("side/update_type")
            except (ValueError, ArithmeticError, IndexError):
                err = _diagnose(path, line, rec, _DEPTH_COLUMNS)
                if err.column is None:
                    col = "side" if rec[4] not in ("b", "a") else "update_type"
                    err = DataFileError(
                        path,
                        "expected side b|a and update_type snap|set",
                        line,
                        col,
                        rec[4] if col == "side" else rec[5],
                    )
                raise err from None
            if key != batch_key:
                flush()
                batch_key, bids, asks = key, [], []
            (bids if side == "b" else asks).append(level)
    flush()
    return events


def _load_tardis_snapshots(path: Path, symbol: str, header: list[str]) -> list[BookEvent]:
    ask_cols = [(i, header.index(f"asks[{n}].price")) for n, i in _level_indexes(header, "asks")]
    bid_cols = [(i, header.index(f"bids[{n}].price")) for n, i in _level_indexes(header, "bids")]
    events: list[BookEvent] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for line, rec in enumerate(reader, start=2):
            try:
                # tardis timestamps are microseconds.
                ts = int(rec[2]) // 1000
                asks = _tardis_levels(rec, ask_cols)
                bids = _tardis_levels(rec, bid_cols)
            except (ValueError, ArithmeticError, IndexError):
                cols: list[tuple[str, Parser]] = [(h, _tardis_field) for h in header]
                cols[2] = ("timestamp", _int)
                cols[0] = cols[1] = cols[3] = ("-", _any)
                err = _diagnose(path, line, rec, cols)
                raise err from None
            events.append(BookSnapshot(symbol, ts, 0, bids, asks))
    return events


def _tardis_field(value: object, column: str) -> object:
    return value if value == "" else _non_negative(value, column)


def _level_indexes(header: list[str], side: str) -> list[tuple[int, int]]:
    out = []
    for i, name in enumerate(header):
        m = re.fullmatch(rf"{side}\[(\d+)\]\.amount", name)
        if m:
            out.append((int(m.group(1)), i))
    return sorted(out)


def _tardis_levels(rec: list[str], cols: list[tuple[int, int]]) -> tuple[Level, ...]:
    levels = []
    for amount_i, price_i in cols:
        if rec[price_i] == "":
            continue
        amount = _non_negative(rec[amount_i], "amount")
        if amount:
            levels.append((_positive(rec[price_i], "price"), amount))
    return tuple(levels)


def _load_bybit_zip(path: Path, symbol: str) -> list[BookEvent]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if not names:
                raise DataFileError(path, "zip holds no file; expected one JSON-lines file")
            text = zf.read(names[0]).decode("utf-8")
    except zipfile.BadZipFile as exc:
        raise DataFileError(path, f"not a readable zip: {exc}") from None
    events: list[BookEvent] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw)
            data = msg["data"]
            kind = msg["type"]
            ts = _int(msg["ts"], "ts")
            seq = _int(data["u"], "u")
            bids = tuple(_bybit_level(x) for x in data.get("b", ()))
            asks = tuple(_bybit_level(x) for x in data.get("a", ()))
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"not JSON: {exc.msg}", row=line) from None
        except KeyError as exc:
            raise DataFileError(path, "message lacks a field", line, str(exc.args[0])) from None
        except (ValueError, ArithmeticError, TypeError) as exc:
            raise DataFileError(path, str(exc), row=line) from None
        if kind == "snapshot":
            events.append(BookSnapshot(symbol, ts, seq, bids, asks))
        elif kind == "delta":
            events.append(BookDelta(symbol, ts, seq, bids, asks))
        else:
            raise DataFileError(path, "type must be snapshot or delta", line, "type", kind)
    return events


def _bybit_level(pair: Any) -> Level:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError(f"level {pair!r} is not [price, size]")
    return _positive(pair[0], "price"), _non_negative(pair[1], "size")


__all__ = [
    "DATA_DIR_ENV",
    "default_data_dir",
    "load_book_events",
    "load_candles",
    "load_quotes",
    "load_trades",
    "symbol_from_path",
]
