"""From what the engine did to what the streams say: user events, depth, tickers, trades, klines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO
from tradeguard.sandbox.klines import KlineStore, kline_event
from tradeguard.sandbox.matching import FEE_ACCOUNT, HOUSE_ACCOUNT, MatchingEngine, Result, Trade
from tradeguard.sandbox.streams import StreamHub
from tradeguard.sandbox.wire import (
    account_position,
    agg_trade,
    book_ticker_row,
    d8,
    execution_report,
    ticker_row,
)

Levels = dict[Decimal, Decimal]


class Publisher:
    """Turns engine results into user data events and market stream events."""

    def __init__(self, engine: MatchingEngine, hub: StreamHub, klines: KlineStore) -> None:
        self.engine = engine
        self.hub = hub
        self.klines = klines
        self.update_id: dict[str, int] = {}
        self._published: dict[str, tuple[Levels, Levels]] = {}
        self._kline_open: dict[str, int] = {}  # stream name -> open time of the last sent kline
        self.latest_ms: dict[str, int] = {}  # symbol -> time of its latest trade

    def market_now(self, symbol: str, now: int) -> int:
        """The later of the clock and the symbol's latest trade (a fast replay runs ahead)."""
        return max(now, self.latest_ms.get(symbol, 0))

    def add_symbol(self, symbol: str) -> None:
        """Start tracking a market's book for depth diffs."""
        self.update_id.setdefault(symbol, 1)
        self._published.setdefault(symbol, ({}, {}))

    def publish(
        self, result: Result, symbols: set[str], now: int, withhold_reports_of: str | None = None
    ) -> None:
        """Send every event `result` implies and record its trades in the klines."""
        for e in result.executions:
            if e.account_id == withhold_reports_of:
                continue  # fault injection: this execution report is lost
            self.hub.to_account(e.account_id, execution_report(e))
        for account_id, assets in result.touched.items():
            if account_id in (FEE_ACCOUNT, HOUSE_ACCOUNT):
                continue
            acc = self.engine.accounts[account_id]
            rows = [(a, acc.bal(a).free, acc.bal(a).locked) for a in sorted(assets)]
            self.hub.to_account(account_id, account_position(now, rows))
        for t in result.trades:
            symbols.add(t.symbol)
            self.klines.add_trade(
                t.symbol, t.time_ms, t.price, t.qty, not t.buyer_is_maker, t.trade_id
            )
            self.latest_ms[t.symbol] = max(self.latest_ms.get(t.symbol, 0), t.time_ms)
        for symbol in symbols:
            trades = [t for t in result.trades if t.symbol == symbol]
            self._publish_market(symbol, now, trades)

    def _publish_market(self, symbol: str, now: int, trades: list[Trade]) -> None:
        low = symbol.lower()
        best_changed = self._publish_depth(symbol, now)
        if best_changed:
            row = book_ticker_row(self.engine, symbol)
            event = {
                "u": self.update_id[symbol],
                "s": symbol,
                "b": row["bidPrice"],
                "B": row["bidQty"],
                "a": row["askPrice"],
                "A": row["askQty"],
            }
            self.hub.to_stream(f"{low}@bookticker", event)
        for t in trades:
            self.hub.to_stream(f"{low}@trade", _trade_event(t, now))
            self.hub.to_stream(f"{low}@aggtrade", _agg_trade_event(t, now))
        if trades:
            self.publish_klines(symbol, now)
        if best_changed or trades:
            self._publish_ticker(symbol, now)

    def _publish_depth(self, symbol: str, now: int) -> bool:
        depth = self.engine.depth(symbol)
        bids = dict(depth["bids"])
        asks = dict(depth["asks"])
        old_bids, old_asks = self._published[symbol]
        diff_b = _level_diff(old_bids, bids)
        diff_a = _level_diff(old_asks, asks)
        best_changed = next(iter(old_bids.items()), None) != next(iter(bids.items()), None) or (
            next(iter(old_asks.items()), None) != next(iter(asks.items()), None)
        )
        self._published[symbol] = (bids, asks)
        if diff_b or diff_a:
            self.update_id[symbol] += 1
            uid = self.update_id[symbol]
            event = {
                "e": "depthUpdate",
                "E": now,
                "s": symbol,
                "U": uid,
                "u": uid,
                "b": [[d8(p), d8(q)] for p, q in diff_b],
                "a": [[d8(p), d8(q)] for p, q in diff_a],
            }
            self.hub.to_stream(f"{symbol.lower()}@depth", event)
        return best_changed

    def publish_klines(self, symbol: str, now: int) -> None:
        """Send the current kline of every subscribed interval, closing the previous one first."""
        prefix = f"{symbol.lower()}@kline_"
        for name in self.hub.wanted(prefix):
            interval = name[len(prefix) :]
            rows = self.klines.klines(symbol, interval, 2, self.market_now(symbol, now))
            if not rows:
                continue
            sent = self._kline_open.get(name)
            if sent is not None and len(rows) == 2 and rows[0].open_ms == sent:
                self.hub.to_stream(name, kline_event(symbol, rows[0], interval, now, True))
            self._kline_open[name] = rows[-1].open_ms
            self.hub.to_stream(name, kline_event(symbol, rows[-1], interval, now, False))

    def _publish_ticker(self, symbol: str, now: int) -> None:
        if not self.hub.conns:  # nobody listens (a Kraken sandbox's own streams are elsewhere)
            return
        row = ticker_row(self.engine, symbol, now)
        event = {
            "e": "24hrTicker",
            "E": now,
            "s": symbol,
            "p": row["priceChange"],
            "P": row["priceChangePercent"],
            "w": row["weightedAvgPrice"],
            "x": row["prevClosePrice"],
            "c": row["lastPrice"],
            "Q": row["lastQty"],
            "b": row["bidPrice"],
            "B": row["bidQty"],
            "a": row["askPrice"],
            "A": row["askQty"],
            "o": row["openPrice"],
            "h": row["highPrice"],
            "l": row["lowPrice"],
            "v": row["volume"],
            "q": row["quoteVolume"],
            "O": row["openTime"],
            "C": row["closeTime"],
            "F": row["firstId"],
            "L": row["lastId"],
            "n": row["count"],
        }
        low = symbol.lower()
        self.hub.to_stream(f"{low}@ticker", event)
        mini = {k: event[k] for k in ("E", "s", "c", "o", "h", "l", "v", "q")}
        self.hub.to_stream(f"{low}@miniticker", {"e": "24hrMiniTicker", **mini})


def _trade_event(t: Trade, now: int) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": now,
        "s": t.symbol,
        "t": t.trade_id,
        "p": d8(t.price),
        "q": d8(t.qty),
        "T": t.time_ms,
        "m": t.buyer_is_maker,
        "M": True,
    }


def _agg_trade_event(t: Trade, now: int) -> dict[str, Any]:
    return {"e": "aggTrade", "E": now, "s": t.symbol, **agg_trade(t)}


def _level_diff(old: Levels, new: Levels) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, ZERO) for p in old if p not in new)
    return out
