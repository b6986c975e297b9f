"""Record live streams to files in the shared data layout, so a session can be replayed later.

`OUT/candles/BASE_QUOTE-1m.feather` (freqtrade candles: `date` UTC, `open,high,low,close,volume`),
`OUT/trades/BASE_QUOTE-trades.parquet` (freqtrade trades: `timestamp` ms, `id, type, side,
price, amount, cost`) and `OUT/orderbook/BASE_QUOTE-quotes.parquet` (`timestamp, symbol,
ask_size, ask, bid_size, bid`): the files `marketdata/loaders.py` reads, the sandbox replays and
backtests run on. Prices go to files as float64, like the recorded data they sit beside; the
loaders turn them back into Decimal. Each flush rewrites a file whole through a temporary file
and a rename, so a killed recording leaves the last flushed files intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.model.market import Candle, Quote, TradeTick


def _stem(symbol: str) -> str:
    return symbol.replace("/", "_")


class Recorder:
    """A `LiveSink` that keeps closed 1m candles, trades and quotes and writes them on flush."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.candles: dict[str, list[Candle]] = {}
        self.trades: dict[str, list[TradeTick]] = {}
        self.quotes: dict[str, list[Quote]] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        if not warmup and candle.interval_s == 60:
            self.candles.setdefault(candle.symbol, []).append(candle)

    async def on_quote(self, quote: Quote) -> None:
        self.quotes.setdefault(quote.symbol, []).append(quote)

    async def on_book(self, book: OrderBook) -> None:
        """Books are not recorded (their best levels arrive as quotes)."""

    async def on_trade(self, trade: TradeTick) -> None:
        self.trades.setdefault(trade.symbol, []).append(trade)

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def counts(self) -> dict[str, int]:
        """Records held per kind."""
        return {
            "candles": sum(map(len, self.candles.values())),
            "trades": sum(map(len, self.trades.values())),
            "quotes": sum(map(len, self.quotes.values())),
        }

    def flush(self) -> list[Path]:
        """Write every file (whole) and return their paths."""
        import pyarrow as pa

        written = []
        for sym, candles in self.candles.items():
            table = pa.table({
                "date": pa.array([c.ts for c in candles], pa.timestamp("ms", tz="UTC")),
                "open": [float(c.open) for c in candles],
                "high": [float(c.high) for c in candles],
                "low": [float(c.low) for c in candles],
                "close": [float(c.close) for c in candles],
                "volume": [float(c.volume) for c in candles],
            })  # fmt: skip
            written.append(self._write(table, "candles", f"{_stem(sym)}-1m.feather"))
        for sym, trades in self.trades.items():
            table = pa.table({
                "timestamp": [t.ts for t in trades], "id": [t.trade_id for t in trades],
                "type": [None] * len(trades), "side": [t.side for t in trades],
                "price": [float(t.price) for t in trades],
                "amount": [float(t.amount) for t in trades],
                "cost": [float(t.price * t.amount) for t in trades],
            })  # fmt: skip
            written.append(self._write(table, "trades", f"{_stem(sym)}-trades.parquet"))
        for sym, quotes in self.quotes.items():
            table = pa.table({
                "timestamp": [q.ts for q in quotes], "symbol": [sym] * len(quotes),
                "ask_size": [float(q.ask_size) for q in quotes],
                "ask": [float(q.ask) for q in quotes],
                "bid_size": [float(q.bid_size) for q in quotes],
                "bid": [float(q.bid) for q in quotes],
            })  # fmt: skip
            written.append(self._write(table, "orderbook", f"{_stem(sym)}-quotes.parquet"))
        return written

    def _write(self, table: Any, folder: str, name: str) -> Path:
        path = self.out_dir / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        if name.endswith(".feather"):
            import pyarrow.feather as feather

            feather.write_feather(table, tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path
