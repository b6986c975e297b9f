"""Trade and quote files (parquet).

Times are epoch ms, or microseconds for a whole file (Binance's trade files from 2025-01-01
on), as for klines (`checks.time_scale`): the first row's time sets the unit, and every time
must lie from 2009-01-01 to before 2100-01-01 UTC in it; one outside (another unit, a damaged
row) is refused naming the file, row, value and the range, not replayed decades away.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tradeguard.marketdata.checks import (
    EARLIEST_OPEN_MS,
    LATEST_OPEN_MS,
    open_time_error,
    time_scale,
)
from tradeguard.marketdata.data_files import (
    Parser,
    PathLike,
    any_value,
    arrow_rows,
    diagnose,
    existing,
    int_value,
    non_negative,
    positive,
    read_arrow,
    require,
    symbol_from_path,
)
from tradeguard.marketdata.errors import DataFileError
from tradeguard.model.market import Quote, TradeTick


def load_trades(path: PathLike, symbol: str | None = None) -> list[TradeTick]:
    """Load public trades from a freqtrade or Binance trades parquet file."""
    p = existing(path)
    sym = symbol or symbol_from_path(p)
    table = read_arrow(p, "parquet")
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
    require(p, table, cols)
    ts_col, id_col, price_col, amount_col, side_col = cols
    out: list[TradeTick] = []
    times = _Times(p, ts_col, "trade time")
    for row, (ts, tid, price, amount, side) in arrow_rows(p, table, cols, "timestamp"):
        try:
            out.append(
                TradeTick(
                    sym,
                    times.ms(row, int_value(ts, ts_col)),
                    str(any_value(tid, id_col)),
                    positive(price, price_col),
                    positive(amount, amount_col),
                    str(side_of(side, side_col)),
                )
            )
        except (ValueError, ArithmeticError):
            checks = [(ts_col, int_value), (id_col, any_value), (price_col, positive),
                      (amount_col, positive), (side_col, side_of)]  # fmt: skip
            raise diagnose(p, row, [ts, tid, price, amount, side], checks) from None
    _check_time_order(p, out)
    return out


def _side(value: object, column: str) -> str:
    if value not in ("buy", "sell"):
        raise ValueError(f"{column} must be 'buy' or 'sell', got {value!r}")
    return str(value)


def _aggressor_side(value: object, column: str) -> str:
    # The buyer was the resting order, so the aggressor sold.
    return "sell" if _bool(value, column) else "buy"


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
    p = existing(path)
    sym = symbol or symbol_from_path(p)
    table = read_arrow(p, "parquet")
    cols = ["timestamp", "bid", "bid_size", "ask", "ask_size"]
    require(p, table, cols)
    checks: list[tuple[str, Parser]] = [
        ("timestamp", int_value),
        ("bid", positive),
        ("bid_size", non_negative),
        ("ask", positive),
        ("ask_size", non_negative),
    ]
    out: list[Quote] = []
    times = _Times(p, "timestamp", "quote time")
    for row, (ts, bid, bid_size, ask, ask_size) in arrow_rows(p, table, cols, "timestamp"):
        try:
            out.append(
                Quote(
                    sym,
                    times.ms(row, int_value(ts, "timestamp")),
                    positive(bid, "bid"),
                    non_negative(bid_size, "bid_size"),
                    positive(ask, "ask"),
                    non_negative(ask_size, "ask_size"),
                )
            )
        except (ValueError, ArithmeticError):
            raise diagnose(p, row, [ts, bid, bid_size, ask, ask_size], checks) from None
    _check_time_order(p, out)
    return out


class _Times:
    """A tick file's times as epoch ms: the unit its first row sets (ms or microseconds), and
    every time in range in it (see the module's docstring)."""

    __slots__ = ("column", "first", "hi", "lo", "path", "scale", "what")

    def __init__(self, path: Path, column: str, what: str) -> None:
        self.path, self.column, self.what = path, column, what
        self.scale = self.first = 0
        self.lo, self.hi = EARLIEST_OPEN_MS, LATEST_OPEN_MS

    def ms(self, row: int, ts: int) -> int:
        """Return record `row`'s time `ts` in ms; raise DataFileError when out of range."""
        if not self.scale:
            self.scale, self.first = time_scale(ts), row
            self.lo, self.hi = EARLIEST_OPEN_MS * self.scale, LATEST_OPEN_MS * self.scale
        if not self.lo <= ts < self.hi:
            raise open_time_error(self.path, row, self.column, ts, ts, self.first, self.scale,
                                  self.what)  # fmt: skip
        return ts // self.scale


def _check_time_order(path: Path, ticks: Sequence[TradeTick | Quote]) -> None:
    """Refuse a tick earlier than the one before it (equal times are common: one match, many
    trades); a replay of an unsorted file would move the clock backwards."""
    for i in range(1, len(ticks)):
        if ticks[i].ts < ticks[i - 1].ts:
            raise DataFileError(
                path,
                f"timestamp goes backwards (record {i} is later); sort the file by time",
                row=i + 1,
                column="timestamp",
                value=ticks[i].ts,
            )
