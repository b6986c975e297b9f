"""The live hub against a hand-written venue: warm-up, reconnect back-fill, book resync, polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.events import BookSnapshot
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription, timeframe_s
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.sandbox.testing import eventually

D = Decimal
SYM = "BTC/USDT"


class ChecksumError(Exception):
    """Named as ccxt names a book whose update ids skip."""


def minute(m: int, close: int | None = None) -> Candle:
    c = D(close if close is not None else 100 + m)
    return Candle(SYM, m * 60_000, c, c, c, c, D(1), 60)


class StubSource:
    """A venue whose REST answers and stream messages the test scripts."""

    name = "stub"

    def __init__(self, kinds: set[str]) -> None:
        self.kinds = kinds
        self.minutes: list[Candle] = []  # REST history; the last one is still open
        self.stream: asyncio.Queue[Any] = asyncio.Queue()
        self.snapshots: list[BookSnapshot] = []
        self.trade_pages: list[list[TradeTick]] = []

    def streams(self) -> set[str]:
        return self.kinds

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        assert timeframe_s(timeframe) == 60
        rows = [c for c in self.minutes if since_ms is None or c.ts >= since_ms]
        return rows[:limit] if since_ms is not None else rows[-limit:]

    async def _next(self) -> Any:
        item = await self.stream.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def watch_candles(self, symbol: str, timeframe: str) -> list[Candle]:
        return list(await self._next())

    async def fetch_book(self, symbol: str, depth: int) -> BookSnapshot:
        return self.snapshots.pop(0)

    async def watch_book(self, symbol: str, depth: int) -> BookSnapshot:
        return await self._next()  # type: ignore[no-any-return]

    async def fetch_trades(self, symbol: str, since_ms: int | None) -> list[TradeTick]:
        return self.trade_pages.pop(0) if self.trade_pages else []

    async def watch_trades(self, symbol: str) -> list[TradeTick]:
        return list(await self._next())

    async def fetch_quote(self, symbol: str) -> Quote | None:
        return None

    async def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        while True:
            yield await self._next()


class Sink:
    def __init__(self) -> None:
        self.candles: list[tuple[int, bool]] = []
        self.books: list[int] = []
        self.trades: list[str] = []
        self.quotes: list[Quote] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        self.candles.append((candle.ts // 60_000, warmup))

    async def on_quote(self, quote: Quote) -> None:
        self.quotes.append(quote)

    async def on_book(self, book: OrderBook) -> None:
        self.books.append(book.seq)

    async def on_trade(self, trade: TradeTick) -> None:
        self.trades.append(trade.trade_id)

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))


def snap(seq: int, bid: str) -> BookSnapshot:
    return BookSnapshot(SYM, seq, seq, ((D(bid), D(1)),), ((D(bid) + 1, D(1)),))


async def test_candles_warm_up_then_a_reconnect_fetches_the_minutes_missed() -> None:
    src, sink = StubSource({"candles"}), Sink()
    src.minutes = [minute(m) for m in range(10)]  # minute 9 still open
    hub = LiveHub({"stub": src}, sink, backoff_s=0.001)
    hub.subscribe([Subscription("candles", "stub", SYM, "1m", warmup=3)])
    try:
        src.stream.put_nowait([minute(9)])
        src.stream.put_nowait([minute(9, 5), minute(10)])
        await eventually(lambda: (9, False) in sink.candles)
        assert sink.candles[-1] == (9, False)
        # the connection drops while minutes 10-14 close
        src.minutes = [minute(m) for m in range(16)]
        src.stream.put_nowait(ConnectionError("socket closed"))
        src.stream.put_nowait([minute(15), minute(16)])
        await eventually(lambda: (15, False) in sink.candles)
    finally:
        await hub.stop()
    assert sink.candles == [(6, True), (7, True), (8, True)] + [(m, False) for m in range(9, 16)]
    st = hub.status()[0]
    assert (st["stream"], st["reconnects"], st["resyncs"]) == ("candles", 1, 0)
    assert [k for k, _ in sink.events] == ["marketdata.reconnect"]


async def test_a_book_gap_takes_a_fresh_snapshot_and_is_counted_as_a_resync() -> None:
    src, sink = StubSource({"book"}), Sink()
    src.snapshots = [snap(100, "50000"), snap(200, "50100")]
    hub = LiveHub({"stub": src}, sink, backoff_s=0.001)
    hub.subscribe([Subscription("book", "stub", SYM, depth=5)])
    try:
        await eventually(lambda: sink.books == [100])
        src.stream.put_nowait(snap(101, "50001"))
        src.stream.put_nowait(snap(99, "1"))  # older than the book: ignored
        src.stream.put_nowait(ChecksumError("update ids skip"))
        src.stream.put_nowait(snap(201, "50101"))
        await eventually(lambda: sink.books[-1:] == [201])
    finally:
        await hub.stop()
    assert sink.books == [100, 101, 200, 201]
    book = hub.books[("stub", SYM)]
    assert book.best_bid() == (D("50101"), D(1))
    st = hub.status()[0]
    assert (st["resyncs"], st["reconnects"]) == (1, 0)
    assert [k for k, _ in sink.events] == ["marketdata.resync"]


async def test_a_venue_without_a_trade_stream_is_polled_and_each_trade_delivered_once() -> None:
    src, sink = StubSource(set()), Sink()

    def tick(i: int) -> TradeTick:
        return TradeTick(SYM, 1000 + i // 2, str(i), D(100), D(1), "buy")

    src.trade_pages = [[tick(0), tick(1)], [tick(1), tick(2), tick(3)], [tick(3), tick(4)]]
    hub = LiveHub({"stub": src}, sink, poll_s=0.001)
    hub.subscribe([Subscription("trades", "stub", SYM)])
    try:
        await eventually(lambda: len(sink.trades) == 5)
        await eventually(lambda: not src.trade_pages)
    finally:
        await hub.stop()
    assert sink.trades == ["0", "1", "2", "3", "4"]
    assert hub.status()[0]["polled"] is True


async def test_quotes_subscribed_on_demand_wait_for_the_first_quote() -> None:
    src, sink = StubSource({"quotes"}), Sink()
    hub = LiveHub({"stub": src}, sink)
    try:
        assert await hub.ensure_quotes("stub", SYM, wait_s=0.05) is False  # nothing came yet
        src.stream.put_nowait(Quote(SYM, 1, D(99), D(1), D(101), D(1)))
        assert await hub.ensure_quotes("stub", SYM, wait_s=2) is True
        assert [q.mid for q in sink.quotes] == [D(100)]
        assert len(hub.status()) == 1  # the second call did not subscribe again
        assert await hub.ensure_quotes("paper", SYM, wait_s=1) is False  # no live source
    finally:
        await hub.stop()


class FlaggingSource(StubSource):
    """A venue that flags its closed klines (Binance's `x`), as `CcxtMarketData` reports them."""

    def __init__(self, kinds: set[str]) -> None:
        super().__init__(kinds)
        self.flagged: set[int] = set()
        self.fetches = 0

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        self.fetches += 1
        return await super().fetch_candles(symbol, timeframe, since_ms, limit)

    def closed_flag(self, symbol: str, timeframe: str, ts: int) -> bool:
        return ts in self.flagged


class ValueSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[Candle] = []

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        await super().on_live_candle(candle, warmup)
        if not warmup:
            self.bars.append(candle)


async def test_a_candle_whose_flagged_final_row_was_lost_is_taken_from_rest_not_its_last_row() -> (
    None
):
    src, sink = FlaggingSource({"candles"}), ValueSink()
    src.minutes = [minute(m) for m in range(10)]  # minute 9 still open
    hub = LiveHub({"stub": src}, sink, backoff_s=0.001)
    hub.subscribe([Subscription("candles", "stub", SYM, "1m")])
    partial = Candle(SYM, 10 * 60_000, D(110), D(111), D(109), D(110), D(1), 60)
    final = Candle(SYM, 10 * 60_000, D(110), D(125), D(108), D(120), D(4), 60)
    try:
        src.flagged.add(9 * 60_000)
        src.stream.put_nowait([minute(9)])  # the venue's closed row of minute 9
        await eventually(lambda: (9, False) in sink.candles)
        src.stream.put_nowait([partial])  # minute 10 half played
        src.minutes = [*src.minutes, partial]  # REST at the reconnect: minute 10 still open
        fetched = src.fetches
        src.stream.put_nowait(ConnectionError("socket closed"))
        await eventually(lambda: src.fetches > fetched)  # the resume's back-fill: 10 is open
        # While the socket reconnects minute 10 closes (its flagged row is never heard) and
        # minute 11 opens: the stream picks up at 11; REST now has minute 10 whole.
        src.minutes = [*src.minutes[:10], final, minute(11)]
        src.stream.put_nowait([minute(11)])
        await eventually(lambda: (10, False) in sink.candles)
    finally:
        await hub.stop()
    assert [b.ts // 60_000 for b in sink.bars] == [9, 10]
    assert (sink.bars[1].high, sink.bars[1].close) == (final.high, final.close), (
        "the venue's final bar, not the last row heard before the gap"
    )
