"""Record live streams to files in the shared data layout, so a session can be replayed later.

`OUT/candles/BASE_QUOTE-1m.feather` (freqtrade candles: `date` UTC, `open,high,low,close,volume`),
`OUT/trades/BASE_QUOTE-trades.parquet` (freqtrade trades: `timestamp` ms, `id, type, side,
price, amount, cost`), `OUT/orderbook/BASE_QUOTE-quotes.parquet` (`timestamp, symbol,
ask_size, ask, bid_size, bid`) and `OUT/orderbook/BASE_QUOTE-book_snapshot_N.parquet` (the top N
levels a side every `book_every_s` of the venue's time, in tardis' column names: `timestamp` ms,
`symbol`, `asks[i].price, asks[i].amount, bids[i].price, bids[i].amount`, empty past the book's
depth): the files `marketdata/loaders.py` reads, the sandbox replays and backtests run on.
Prices go to files as float64, like the recorded data they sit beside; the loaders turn them
back into Decimal. Each flush rewrites a file whole through a temporary file
and a rename, so a killed recording leaves the last flushed files intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.events import BookSnapshot
from tradeguard.model.market import Candle, Quote, TradeTick


def _stem(symbol: str) -> str:
    return symbol.replace("/", "_")


class Recorder:
    """A `LiveSink` that keeps closed 1m candles, trades, quotes and book snapshots (top
    `book_depth` levels, at most one per `book_every_s`) and writes them on flush."""

    def __init__(self, out_dir: Path, book_depth: int = 10, book_every_s: float = 1.0) -> None:
        if not 1 <= book_depth <= 1000:
            raise ValueError(f"book_depth={book_depth}: must be in [1, 1000] levels a side")
        if not 0 < book_every_s <= 3600:
            raise ValueError(f"book_every_s={book_every_s}: must be in (0, 3600] seconds")
        self.out_dir = out_dir
        self.book_depth = book_depth
        self.book_every_ms = int(book_every_s * 1000)
        self.candles: dict[str, list[Candle]] = {}
        self.trades: dict[str, list[TradeTick]] = {}
        self.quotes: dict[str, list[Quote]] = {}
        self.books: dict[str, list[BookSnapshot]] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        if not warmup and candle.interval_s == 60:
            self.candles.setdefault(candle.symbol, []).append(candle)

    async def on_quote(self, quote: Quote) -> None:
        self.quotes.setdefault(quote.symbol, []).append(quote)

    async def on_book(self, book: OrderBook) -> None:
        """Keep the top levels when `book_every_s` passed (venue time) since the last kept."""
        kept = self.books.setdefault(book.symbol, [])
        if kept and book.ts - kept[-1].ts < self.book_every_ms:
            return
        depth = self.book_depth
        kept.append(
            BookSnapshot(book.symbol, book.ts, book.seq, tuple(book.bids(depth)),
                         tuple(book.asks(depth)))
        )  # fmt: skip

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
            "books": sum(map(len, self.books.values())),
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
        for sym, books in self.books.items():
            name = f"{_stem(sym)}-book_snapshot_{self.book_depth}.parquet"
            written.append(self._write(self._book_table(sym, books), "orderbook", name))
        return written

    def _book_table(self, symbol: str, books: list[BookSnapshot]) -> Any:
        import pyarrow as pa

        columns: dict[str, Any] = {
            "timestamp": pa.array([b.ts for b in books], pa.int64()),
            "symbol": [symbol] * len(books),
        }
        for i in range(self.book_depth):
            for side in ("asks", "bids"):
                levels = [getattr(b, side)[i] if i < len(getattr(b, side)) else None for b in books]
                for j, part in enumerate(("price", "amount")):
                    columns[f"{side}[{i}].{part}"] = pa.array(
                        [None if lv is None else float(lv[j]) for lv in levels], pa.float64()
                    )
        return pa.table(columns)

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
