"""Kraken's websocket v2 market data shapes (ticker, book, trade, ohlc) from the engine's state.

Numbers go out as JSON numbers, as Kraken's v2 API sends them; the book checksum is Kraken's:
CRC32 of the ten best asks (lowest first) then the ten best bids (highest first), each level
its price then its quantity written with the pair's decimals, the point and leading zeros removed.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.money import ZERO
from tradeguard.sandbox.kraken.public import decimals
from tradeguard.sandbox.orders import MarketSpec, Trade

if TYPE_CHECKING:
    from tradeguard.sandbox.matching import MatchingEngine

Level = tuple[Decimal, Decimal]
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)  # minutes
CHECKSUM_LEVELS = 10
TRADE_SNAPSHOT = 50
OHLC_SNAPSHOT = 720


def iso(ms: int) -> str:
    """Epoch milliseconds as Kraken's RFC 3339 time with microseconds (`...T12:00:00.000000Z`)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ws_symbol(spec: MarketSpec) -> str:
    """The pair as v2 names it: `BTC/USD`."""
    return f"{spec.base}/{spec.quote}"


def _fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def checksum(spec: MarketSpec, asks: list[Level], bids: list[Level]) -> int:
    """Kraken's CRC32 of the top ten levels of each side (asks first)."""
    pd, qd = decimals(spec.tick), decimals(spec.step)
    parts = []
    for side in (asks, bids):
        for price, qty in side[:CHECKSUM_LEVELS]:
            for text in (_fixed(price, pd), _fixed(qty, qd)):
                parts.append(text.replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF


def levels_json(levels: list[Level]) -> list[dict[str, float]]:
    return [{"price": float(p), "qty": float(q)} for p, q in levels]


def book_message(
    spec: MarketSpec, kind: str, asks: list[Level], bids: list[Level], top: tuple[list[Level], ...]
) -> dict[str, Any]:
    """A book snapshot or update: `asks`/`bids` the levels sent, `top` the (asks, bids) the
    receiver holds after it, whose checksum goes along."""
    row: dict[str, Any] = {
        "symbol": ws_symbol(spec),
        "bids": levels_json(bids),
        "asks": levels_json(asks),
        "checksum": checksum(spec, top[0], top[1]),
    }
    return {"channel": "book", "type": kind, "data": [row]}


def book_diff(old: dict[Decimal, Decimal], new: list[Level]) -> list[Level]:
    """The levels that changed from `old` to `new`; a level gone is sent with quantity 0."""
    now = dict(new)
    out = [(p, q) for p, q in new if old.get(p) != q]
    out.extend((p, ZERO) for p in old if p not in now)
    return out


class DayStats:
    """A pair's figures over the trades of the last 24 hours, kept as trades arrive: a ticker
    costs the new trades, not the day's (the whole window is read again only when it slides
    past its first trade)."""

    def __init__(self) -> None:
        self._reset(0)

    def _reset(self, start: int) -> None:
        self.start = self.seen = start  # the window's first trade; trades taken in
        self.volume = self.quote = ZERO
        self.low: Decimal | None = None
        self.high: Decimal | None = None

    def update(self, trades: list[Trade], now_ms: int) -> None:
        begin = now_ms - DAY_MS
        if self.start < len(trades) and trades[self.start].time_ms < begin:
            self._reset(len(trades) - len(_since(trades, begin)))
        for t in trades[self.seen :]:
            self.volume += t.qty
            self.quote += t.quote_qty
            self.low = t.price if self.low is None else min(self.low, t.price)
            self.high = t.price if self.high is None else max(self.high, t.price)
        self.seen = len(trades)


DAY_MS = 86_400_000


def ticker_row(
    engine: MatchingEngine, spec: MarketSpec, now_ms: int, day: DayStats
) -> dict[str, Any]:
    """The v2 ticker of a pair over the trades of the last 24 hours."""
    bid, ask = engine.best(spec.symbol)
    trades = engine.trades.get(spec.symbol) or []
    day.update(trades, now_ms)
    last = engine.last_price(spec.symbol) or ZERO
    opened = trades[day.start].price if day.start < len(trades) else last
    change = last - opened
    pct = (change / opened * 100).quantize(Decimal("0.01")) if opened else ZERO
    volume = day.volume
    return {
        "symbol": ws_symbol(spec),
        "bid": float(bid[0]) if bid else 0.0, "bid_qty": float(bid[1]) if bid else 0.0,
        "ask": float(ask[0]) if ask else 0.0, "ask_qty": float(ask[1]) if ask else 0.0,
        "last": float(last), "volume": float(volume),
        "vwap": float(day.quote / volume) if volume else float(last),
        "low": float(day.low if day.low is not None else last),
        "high": float(day.high if day.high is not None else last),
        "change": float(change), "change_pct": float(pct),
    }  # fmt: skip


def _since(trades: list[Trade], start_ms: int) -> list[Trade]:
    """The trades at or after `start_ms` (the list is in time order: read from its end)."""
    i = len(trades)
    while i > 0 and trades[i - 1].time_ms >= start_ms:
        i -= 1
    return trades[i:]


def trade_row(spec: MarketSpec, t: Trade) -> dict[str, Any]:
    """One public trade; the side is the taker's."""
    return {
        "symbol": ws_symbol(spec),
        "side": "sell" if t.buyer_is_maker else "buy",
        "price": float(t.price),
        "qty": float(t.qty),
        "ord_type": "limit",
        "trade_id": t.trade_id,
        "timestamp": iso(t.time_ms),
    }


def ohlc_rows(
    spec: MarketSpec, trades: list[Trade], interval_min: int, start_ms: int
) -> list[dict[str, Any]]:
    """The candles of `interval_min` minutes opened at or after `start_ms`, oldest first."""
    size = interval_min * 60_000
    bars: dict[int, list[Any]] = {}
    _fold(bars, _since(trades, start_ms // size * size), size)
    return _rows(spec, bars, interval_min)


class OhlcBars:
    """A pair's candles of one interval kept as trades arrive: an update folds in the new trades
    instead of reading every trade of the open candle again (a 15-day candle holds every trade
    of 15 days). Only the candles a later trade can still reach are kept."""

    def __init__(self, interval_min: int) -> None:
        self.interval = interval_min
        self.size = interval_min * 60_000
        self.seen = 0  # trades folded in
        self.bars: dict[int, list[Any]] = {}  # open time -> bar
        self.rows: list[dict[str, Any]] = []  # the last update's, for the next subscriber

    def update(self, spec: MarketSpec, trades: list[Trade], start_ms: int) -> list[dict[str, Any]]:
        """The candles opened at or after `start_ms` (the first new trade's), oldest first."""
        if self.seen == len(trades):  # another subscriber of the same result
            return self.rows
        first = start_ms // self.size * self.size
        if not self.bars or first < max(self.bars):  # first use, or a back-dated trade
            self.bars = {}
            _fold(self.bars, _since(trades, first), self.size)
        else:
            self.bars = {k: bar for k, bar in self.bars.items() if k >= first}
            _fold(self.bars, trades[self.seen :], self.size)
        self.seen = len(trades)
        self.rows = _rows(spec, {k: b for k, b in self.bars.items() if k >= first}, self.interval)
        return self.rows


def _fold(bars: dict[int, list[Any]], trades: list[Trade], size: int) -> None:
    for t in trades:
        opened = t.time_ms // size * size
        bar = bars.get(opened)
        if bar is None:
            bar = bars[opened] = [t.price, t.price, t.price, t.price, ZERO, ZERO, 0, t.time_ms]
        bar[1], bar[2], bar[3] = max(bar[1], t.price), min(bar[2], t.price), t.price
        bar[4] += t.qty
        bar[5] += t.quote_qty
        bar[6] += 1
        bar[7] = t.time_ms


def _rows(spec: MarketSpec, bars: dict[int, list[Any]], interval_min: int) -> list[dict[str, Any]]:
    return [
        {
            "symbol": ws_symbol(spec),
            "open": float(b[0]),
            "high": float(b[1]),
            "low": float(b[2]),
            "close": float(b[3]),
            "volume": float(b[4]),
            "vwap": float(b[5] / b[4]) if b[4] else float(b[3]),
            "trades": b[6],
            "interval_begin": iso(opened),
            "interval": interval_min,
            "timestamp": iso(b[7]),
        }
        for opened, b in sorted(bars.items())
    ]
