"""Klines (candles) of every Binance interval, built from the sandbox's trades and replayed bars.

Trades land in one-second base bars; replayed history lands as bars of its file's interval.
A query folds the base bars into buckets of the asked interval and fills empty buckets with a
flat bar at the previous close, as Binance does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from sortedcontainers import SortedDict

from tradeguard.model.money import ZERO
from tradeguard.sandbox.wire import d8

_S = 1000
INTERVAL_MS = {
    "1s": _S, "1m": 60 * _S, "3m": 180 * _S, "5m": 300 * _S, "15m": 900 * _S,
    "30m": 1800 * _S, "1h": 3600 * _S, "2h": 7200 * _S, "4h": 14400 * _S, "6h": 21600 * _S,
    "8h": 28800 * _S, "12h": 43200 * _S, "1d": 86400 * _S, "3d": 259200 * _S,
    "1w": 604800 * _S, "1M": 0,
}  # fmt: skip
_WEEK_OFFSET_MS = 4 * 86400 * _S  # Binance weeks open on Monday; 1970-01-01 was a Thursday
MAX_BASE_BARS = 200_000  # per symbol and resolution; the oldest are dropped beyond this
_DAY_MS = 86_400 * _S
_RESOLUTIONS_MS = (_S, 60 * _S, 3600 * _S, _DAY_MS)


@dataclass(slots=True)
class Bar:
    """One kline: prices, base and quote volume, trade count, taker-buy volumes."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO
    first_id: int = -1
    last_id: int = -1

    def add(self, price: Decimal, qty: Decimal, taker_buy: bool, trade_id: int = -1) -> None:
        """Fold one trade into the bar."""
        if self.first_id < 0:
            self.first_id = trade_id
        self.last_id = trade_id
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += qty * price
        self.trades += 1
        if taker_buy:
            self.taker_buy_volume += qty
            self.taker_buy_quote += qty * price

    def merge(self, later: Bar) -> None:
        """Fold a later bar of the same bucket into this one."""
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close
        self.volume += later.volume
        self.quote_volume += later.quote_volume
        self.trades += later.trades
        self.taker_buy_volume += later.taker_buy_volume
        self.taker_buy_quote += later.taker_buy_quote
        if self.first_id < 0:
            self.first_id = later.first_id
        if later.last_id >= 0:
            self.last_id = later.last_id


def bucket_start(ts_ms: int, interval: str) -> int:
    """Open time of the kline of `interval` holding `ts_ms`."""
    if interval == "1M":
        d = datetime.fromtimestamp(ts_ms / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    step = INTERVAL_MS[interval]
    offset = _WEEK_OFFSET_MS if interval == "1w" else 0
    return (ts_ms - offset) // step * step + offset


def next_start(open_ms: int, interval: str) -> int:
    """Open time of the kline after the one opening at `open_ms`."""
    if interval == "1M":
        d = datetime.fromtimestamp(open_ms / 1000, UTC)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return int(datetime(y, m, 1, tzinfo=UTC).timestamp() * 1000)
    return open_ms + INTERVAL_MS[interval]


class KlineStore:
    """Bars per symbol at a few resolutions, and the klines folded from them.

    Each trade lands in its second, minute, hour and day bar; a query folds the coarsest
    resolution that divides its interval, so 1,000 hourly klines fold 1,000 bars, not 3.6 M.
    """

    def __init__(self) -> None:
        self._bars: dict[tuple[str, int], SortedDict] = {}

    def _level(self, symbol: str, size_ms: int) -> SortedDict:
        bars = self._bars.get((symbol, size_ms))
        if bars is None:
            bars = self._bars[(symbol, size_ms)] = SortedDict()
        return bars

    def add_trade(
        self,
        symbol: str,
        ts_ms: int,
        price: Decimal,
        qty: Decimal,
        taker_buy: bool,
        trade_id: int = -1,
    ) -> None:
        """Record one trade in its bar of every resolution."""
        for size in _RESOLUTIONS_MS:
            bars = self._level(symbol, size)
            start = ts_ms // size * size
            bar = bars.get(start)
            if bar is None:
                bar = bars[start] = Bar(start, price, price, price, price)
                if len(bars) > MAX_BASE_BARS:
                    bars.popitem(0)
            bar.add(price, qty, taker_buy, trade_id)

    def add_bar(self, symbol: str, bar: Bar) -> None:
        """Record a whole bar (replayed history), merged with what its bucket already holds."""
        for size in _RESOLUTIONS_MS:
            bars = self._level(symbol, size)
            start = bar.open_ms // size * size if size > _S else bar.open_ms
            held = bars.get(start)
            if held is None:
                bars[start] = replace(bar, open_ms=start)
            else:
                held.merge(bar)

    def current(self, symbol: str, interval: str, now_ms: int) -> Bar | None:
        """The kline of `interval` holding `now_ms`, if the symbol has traded."""
        rows = self.klines(symbol, interval, limit=1, end_ms=now_ms, now_ms=now_ms)
        return rows[-1] if rows else None

    def klines(
        self,
        symbol: str,
        interval: str,
        limit: int,
        now_ms: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Bar]:
        """Up to `limit` klines: the first ones from `start_ms`, else the last ones to `end_ms`."""
        size = INTERVAL_MS[interval] or _DAY_MS
        resolution = max(r for r in _RESOLUTIONS_MS if size % r == 0)
        bars = self._bars.get((symbol, resolution))
        if not bars:
            return []
        hi = now_ms if end_ms is None else min(end_ms, now_ms)
        last = bucket_start(hi, interval)
        if start_ms is None:
            first = last
            for _ in range(limit - 1):
                first = bucket_start(first - 1, interval)
        else:
            first = bucket_start(start_ms, interval)
        prev = _close_before(bars, first)
        if prev is None:
            k = next(iter(bars.irange(first, hi)), None)
            if k is None:
                return []
            first = bucket_start(k, interval)
        out: list[Bar] = []
        b = first
        while b <= last and len(out) < limit:
            nb = next_start(b, interval)
            bar: Bar | None = None
            for k in bars.irange(b, nb - 1):
                if bar is None:
                    bar = replace(bars[k], open_ms=b)
                else:
                    bar.merge(bars[k])
            if bar is None:
                assert prev is not None
                bar = Bar(b, prev, prev, prev, prev)
            prev = bar.close
            out.append(bar)
            b = nb
        return out


def _close_before(bars: SortedDict, ts_ms: int) -> Decimal | None:
    keys = bars.irange(None, ts_ms, inclusive=(True, False), reverse=True)
    k = next(iter(keys), None)
    return None if k is None else bars[k].close


def kline_row(bar: Bar, interval: str) -> list[object]:
    """One row of `GET /api/v3/klines`."""
    return [
        bar.open_ms,
        d8(bar.open),
        d8(bar.high),
        d8(bar.low),
        d8(bar.close),
        d8(bar.volume),
        next_start(bar.open_ms, interval) - 1,
        d8(bar.quote_volume),
        bar.trades,
        d8(bar.taker_buy_volume),
        d8(bar.taker_buy_quote),
        "0",
    ]


def kline_event(
    symbol: str, bar: Bar, interval: str, now_ms: int, closed: bool
) -> dict[str, object]:
    """A `<symbol>@kline_<interval>` stream event."""
    return {
        "e": "kline",
        "E": now_ms,
        "s": symbol,
        "k": {
            "t": bar.open_ms,
            "T": next_start(bar.open_ms, interval) - 1,
            "s": symbol,
            "i": interval,
            "f": bar.first_id,
            "L": bar.last_id,
            "o": d8(bar.open),
            "c": d8(bar.close),
            "h": d8(bar.high),
            "l": d8(bar.low),
            "v": d8(bar.volume),
            "n": bar.trades,
            "x": closed,
            "q": d8(bar.quote_volume),
            "V": d8(bar.taker_buy_volume),
            "Q": d8(bar.taker_buy_quote),
            "B": "0",
        },
    }
