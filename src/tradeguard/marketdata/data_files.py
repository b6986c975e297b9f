"""Locating market data files and reading their values, with one-line errors naming the row."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.marketdata.errors import DataFileError
from tradeguard.model.money import dec

PathLike = str | os.PathLike[str]

DATA_DIR_ENV = "TG_DATA_DIR"
QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
SATOSHI = Decimal("1e-8")
EPOCH = datetime(1970, 1, 1)
ONE_MS = timedelta(milliseconds=1)
OHLCV_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
# the most any figure of a data file may be: no price or volume comes near it, and one past it
# (`1e400`, finite to Decimal) is infinite as a float, in charts and every float figure
MAX_FIGURE = Decimal("1e18")
KLINE_FIELDS = 12  # Binance kline CSV: open time .. ignore
INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# --- locating files ------------------------------------------------------------------------


def resolve_data_path(path: str, base_dir: Path | None = None) -> Path:
    """Resolve a data path: absolute, else the first that exists of the config file's folder
    (`base_dir`), the working directory and the data directory ($TG_DATA_DIR, ../shared/data)."""
    p = Path(_home(path, f"data path {path!r}"))
    if p.is_absolute():
        return p
    if base_dir is not None and (base_dir / p).exists():
        return base_dir / p
    if p.exists():
        return p
    return default_data_dir() / path


def default_data_dir() -> Path:
    """Find the shared data directory: $TG_DATA_DIR, else ../shared/data from cwd or repo root."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(_home(env, f"${DATA_DIR_ENV} = {env!r}"))
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


def _home(value: str, what: str) -> str:
    """`value` with its leading `~` or `~user` taken as that home folder; a `~user` of no such
    user is a config error naming `what` (Path.expanduser raised a bare RuntimeError)."""
    from tradeguard.model.errors import ConfigError
    from tradeguard.model.fields import home_path

    try:
        return home_path(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}; or give an absolute path") from None


def existing(path: PathLike) -> Path:
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
        for quote in QUOTE_ASSETS:
            if pair.endswith(quote) and len(pair) > len(quote):
                return f"{pair[: -len(quote)]}/{quote}"
    raise DataFileError(
        Path(path), "cannot tell the symbol from the file name; pass symbol='BASE/QUOTE'"
    )


def interval_from_name(path: Path) -> int | None:
    for token in re.split(r"[_\-.]", path.name):
        m = re.fullmatch(r"(\d+)([smhdw])", token)
        if m:
            return int(m.group(1)) * INTERVAL_UNITS[m.group(2)]
    return None


def interval_from_times(path: Path, ts: Sequence[int]) -> int:
    steps = [b - a for a, b in itertools.pairwise(ts[:200]) if b > a]
    if not steps:
        raise DataFileError(path, "cannot tell the bar interval; name the file like 'X_1m.csv'")
    return min(steps) // 1000


# --- value parsing and row diagnosis --------------------------------------------------------


def num_value(value: object, column: str) -> Decimal:
    if isinstance(value, float):
        # Binary files hold floats computed upstream (0.0529 stored as 0.052900000000000005);
        # 15 significant digits drop that noise and keep every real venue price exactly.
        value = format(value, ".15g")
    result = dec(value, column)
    if not result.is_finite():
        raise ValueError(f"{column}: {value!r} is not a finite number")
    if abs(result) > MAX_FIGURE:
        raise ValueError(f"{column}: {value!r} is beyond the limit {MAX_FIGURE:f} (1e18)")
    return result


def to_satoshi(volume: Decimal) -> Decimal:
    """`volume` to 8 places, or as it is where that needs more than Decimal's 28 digits."""
    # a quote volume over a tiny close (1e12 / 1e-10) has 23 digits before the point
    return volume.quantize(SATOSHI) if volume.adjusted() < 20 else volume


def positive(value: object, column: str) -> Decimal:
    result = num_value(value, column)
    if result <= 0:
        raise ValueError(f"{column}: {value!r} must be > 0")
    return result


def non_negative(value: object, column: str) -> Decimal:
    result = num_value(value, column)
    if result < 0:
        raise ValueError(f"{column}: {value!r} must be >= 0")
    return result


def int_value(value: object, column: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{column}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"{column}: {value!r} is not an integer")


def utc_text_ms(value: object, column: str) -> int:
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
    return (moment - EPOCH) // ONE_MS


Parser = Callable[[object, str], object]


def diagnose(
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


def check_bar(o: Decimal, h: Decimal, low: Decimal, c: Decimal, v: Decimal) -> None:
    # Comparisons also reject NaN (a signalling comparison raises InvalidOperation).
    if not (low > 0 and h >= low and v >= 0 and h <= MAX_FIGURE and v <= MAX_FIGURE):
        raise ValueError("bar out of range")
    if not (low <= o <= h and low <= c <= h):
        raise ValueError("open/close outside low..high")


def bar_columns(ts_parser: Parser) -> list[tuple[str, Parser]]:
    return [
        ("timestamp", ts_parser),
        ("open", positive),
        ("high", positive),
        ("low", positive),
        ("close", positive),
        ("volume", non_negative),
    ]


def field_count_error(path: Path, row: int, rec: Sequence[str], expected: int) -> DataFileError:
    return DataFileError(
        path,
        f"expected {expected} fields, got {len(rec)}; the row may be cut short or joined",
        row=row,
        value=",".join(rec),
    )


def bar_error(path: Path, row: int, values: Sequence[object], ts_parser: Parser) -> DataFileError:
    err = diagnose(path, row, values, bar_columns(ts_parser))
    if err.column is None and len(values) >= 6:
        o, h, low, c = (num_value(v, "x") for v in values[1:5])
        err = DataFileError(
            path,
            f"inconsistent bar: open {o}, high {h}, low {low}, close {c} "
            "(need low <= open, close <= high)",
            row=row,
        )
    return err


# --- arrow files ------------------------------------------------------------------------------


def read_arrow(path: Path, kind: str) -> Any:
    try:
        if kind == "feather":
            return _read_feather(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(path, f"cannot read as {kind}: {exc}") from None


def _read_feather(path: Path) -> Any:
    """A Feather file as a table. Feather V2 is the Arrow IPC file format: read as such, without
    pyarrow.feather, whose import loads pyarrow's pandas glue (~5 ms of a backtest's start); a
    V1 file (or anything else) goes to pyarrow.feather, which reads it or says why not."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        with ipc.open_file(path) as reader:
            return reader.read_all()
    except pa.ArrowInvalid:
        import pyarrow.feather as feather

        return feather.read_table(path)


def require(path: Path, table: Any, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataFileError(path, f"missing columns {missing}; the file has {table.column_names}")


def ms_values(path: Path, table: Any, column: str) -> list[Any]:
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
    raise DataFileError(
        path,
        f"column {column!r} has type {col.type}; expected a timestamp or integer epoch ms",
        column=column,
        value=str(col.type),
    )


def arrow_rows(
    path: Path, table: Any, columns: Sequence[str], time_column: str
) -> Iterable[tuple[int, list[Any]]]:
    lists = [
        ms_values(path, table, c) if c == time_column else table.column(c).to_pylist()
        for c in columns
    ]
    for i, values in enumerate(zip(*lists, strict=True), start=1):
        yield i, list(values)


def any_value(value: object, column: str) -> object:
    if value is None:
        raise ValueError(f"{column}: value is missing")
    return value
