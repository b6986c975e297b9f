"""Live market data into the node: the hub over every venue's streams, and what each event feeds.

Closed candles go to the strategies that asked for their interval (muted while warming up from
REST history), books and public trades to market state, the paper venues' fills and the
strategies that want them; quotes take the node's own path (`TradingNode.on_quote`). Before each
event the stored set of paused strategies is reread when a second has passed (`node.pause`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.source import QuoteStreamSource
from tradeguard.marketdata.live.subscriptions import timeframe_s
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.node.routing import strategies_for

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode


def build_hub(node: TradingNode) -> LiveHub:
    """A hub over every venue with public market data; quote-only venues stream quotes.

    A paper venue with `data_venue` takes that venue's source: its strategies' subscriptions
    join the exchange's streams, and its fills follow the same live data. A `data_only` venue
    is a source and nothing else (no orders, balances or keys).
    """
    sources: dict[str, Any] = {
        n: v.market_data() if hasattr(v, "market_data") else _quotes_only(n, v)
        for n, v in node.data_venues.items()
    }
    for name, venue in node.venues.items():
        if hasattr(venue, "market_data"):
            sources[name] = venue.market_data()
        elif name not in node._paper:  # prediction markets, pools: best bid/ask only
            sources[name] = _quotes_only(name, venue)
    for vc in node.config.venues:
        if vc.kind == "paper" and vc.data_venue in sources:
            sources[vc.name] = sources[vc.data_venue]
    return LiveHub(sources, NodeFeed(node), stale_after_s=node.config.risk.stale_data_s)


def _quotes_only(name: str, venue: Any) -> QuoteStreamSource:
    """A venue streaming best bid/ask only, with whether it polls REST by design and how it
    reports a REST fallback (when it has either)."""
    return QuoteStreamSource(name, venue.stream_quotes, venue)


def _papers(node: TradingNode, venue: str) -> list[Any]:
    """The paper venues that fill on `venue`'s data (every one for untagged data)."""
    return [p for n, p in node._paper.items() if not venue or node.market.follows(n, venue)]


def _admits(node: TradingNode, book: OrderBook) -> bool:
    """Whether the mark guard lets `book` fill paper orders: its mid within the limit of the
    last accepted mark, or (one side empty, no mid) the best price of the side it has."""
    admits, venue, symbol = node.risk.mark_guard.admits, book.venue, book.symbol
    mid = book.mid()
    if mid is not None:
        return admits(venue, symbol, mid)
    return all(admits(venue, symbol, side[0][0]) for side in (book.bids(1), book.asks(1)) if side)


def _takers(node: TradingNode, symbol: str, venue: str) -> Sequence[Any]:
    return strategies_for(node._by_symbol, node._by_source, symbol, venue)


class NodeFeed:
    """The hub's sink: hands each live event to the node's parts."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self._tick = node._ctx._pauses.tick

    async def on_quote(self, quote: Quote) -> None:
        self._tick()
        await self.node.on_quote(quote)

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        """Feed one closed live candle to the strategies that asked for its interval."""
        self._tick()
        node = self.node
        wanted = [
            s for s in _takers(node, candle.symbol, candle.venue)
            if s.timeframe and timeframe_s(s.timeframe) == candle.interval_s
        ]  # fmt: skip
        if warmup:  # history before the run: rebuilds indicators, never trades
            for s in wanted:
                s.muted = True
            try:
                for s in wanted:
                    if not node.interrupts.call(s.id, s.on_candle, candle):
                        break
            finally:
                for s in wanted:
                    s.muted = False
                node._ctx.queue.clear()
            return
        node.market.on_candle(candle)
        quoted = node.market.quote(candle.symbol, candle.venue or None) is not None
        # a quote's mark is better; a candle whose close the guard holds fills no paper order,
        # nor one reaching further than the limit (a bar built from a trade that far off)
        guard, venue, sym = node.risk.mark_guard, candle.venue, candle.symbol
        taken = (
            guard.admits(venue, sym, candle.close)
            if quoted
            else node._take_bar(venue, sym, candle.close, candle.ts, candle.ts, candle.close_ts)
        )
        fills = taken and guard.admits_bar(venue, sym, candle.low, candle.high)
        if fills and wanted and candle.interval_s == self._finest(candle.symbol):
            # Paper orders fill on the finest bars streamed, by the replays' fill model (a
            # longer bar would count the same volume twice).
            for paper in _papers(node, candle.venue):
                paper.on_candle(candle)
        if taken and not quoted:
            node.portfolio.mark(candle.symbol, candle.close, candle.venue, candle.close_ts)
        for s in wanted:
            if not node.interrupts.call(s.id, s.on_candle, candle):
                return  # stopping (Ctrl-C): nothing more of this candle
        await self._drain()
        node.stats.saw(candle.ts, candle.close_ts)
        node.stats.events += 1
        node._events_this_run += 1
        self._step_done()

    def _finest(self, symbol: str) -> int:
        spans = [
            timeframe_s(s.timeframe) for s in self.node._by_symbol.get(symbol, ()) if s.timeframe
        ]
        return min(spans, default=0)

    async def on_book(self, book: OrderBook) -> None:
        """Feed one L2 book update to market state, paper fills and the strategies."""
        self._tick()
        node = self.node
        node.market.on_book(book)
        if _admits(node, book):
            for paper in _papers(node, book.venue):  # a book as far off as a held mark waits
                paper.on_book(book)
        else:  # updated in place: a paper venue holding it must not fill on it meanwhile
            for paper in _papers(node, book.venue):
                paper.withhold_book(book)
        for s in _takers(node, book.symbol, book.venue):
            if s.book_depth and not node.interrupts.call(s.id, s.on_book, book):
                return
        await self._drain()
        self._step_done()

    async def on_trade(self, trade: TradeTick) -> None:
        """Feed one public trade to paper fills and the strategies that want trades."""
        self._tick()
        node = self.node
        if node.risk.mark_guard.admits(trade.venue, trade.symbol, trade.price):
            for paper in _papers(node, trade.venue):  # a print as far off as a held mark waits
                paper.on_trade(trade)
        for s in _takers(node, trade.symbol, trade.venue):
            if s.wants_trades and not node.interrupts.call(s.id, s.on_trade, trade):
                return
        await self._drain()
        self._step_done()

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None:
        """Publish a stream's reconnect, book resync, silence or return; a silent stream makes
        its symbol's data stale (the risk engine denies it) until it speaks again."""
        market = self.node.market
        # Keyed by venue too: two venues streaming one symbol stall and recover separately.
        stream = f"{data['venue']}/{data['stream']}"
        if kind == "marketdata.stale":
            market.stall(data["symbol"], stream, int(data["last_ms"]))
        elif kind == "marketdata.fresh":
            market.unstall(data["symbol"], stream)
        quiet = kind in ("marketdata.fresh", "marketdata.recovered")
        self.node._emit(kind, data, "info" if quiet else "warning")

    async def _drain(self) -> None:
        if self.node._ctx.queue:
            await self.node._drain()

    def _step_done(self) -> None:
        saves = self.node.state_saves
        if saves is not None:  # the state a strategy asked to store now (node.state_saves)
            saves.step_done()
