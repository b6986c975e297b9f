"""A prediction-market book that keeps arriving unchanged over its WebSocket is live: the hub
never calls it stale (liveness is by arrival), though the node hears of it once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

from test_live_hub import Sink
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.source import QuoteStreamSource
from tradeguard.marketdata.live.streams import RestFallback
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.market import Quote
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.outcome_stream import StreamStats, stream_with_fallback

SYM = "K:YES/USD"
D = Decimal


class _QuietBook:
    """A venue whose WebSocket sends the same book every 20 ms (a market nobody trades)."""

    name = "k-ws"

    def __init__(self) -> None:
        self.sent = 0
        self.book_stats = StreamStats()

    async def fetch_quote(self, symbol: str) -> Quote:
        return Quote(symbol, 1, D("0.45"), D(10), D("0.47"), D(10))

    async def _ws(self) -> AsyncIterator[Quote]:
        while True:
            self.sent += 1
            yield Quote(SYM, 1 + self.sent, D("0.45"), D(10), D("0.47"), D(10))
            await asyncio.sleep(0.02)

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self.stream_quotes_reporting(symbols, RestFallback())

    def stream_quotes_reporting(self, symbols: list[str], fb: RestFallback) -> AsyncIterator[Quote]:
        return stream_with_fallback(
            self.name, symbols, self.fetch_quote, self._ws, 0.05, stats=self.book_stats, fallback=fb
        )


async def test_an_unchanged_book_arriving_over_the_websocket_is_never_stale() -> None:
    venue, sink = _QuietBook(), Sink()
    hub = LiveHub({venue.name: QuoteStreamSource(venue.name, venue.stream_quotes, venue)}, sink,
                  stale_after_s=1.0)  # fmt: skip
    hub.subscribe([Subscription("quotes", venue.name, SYM)])
    try:
        # two seconds of arrivals, twice the limit: every one shows the stream alive
        await eventually(lambda: venue.sent >= 100, timeout_s=30)
        [row] = hub.status()
        assert not row["stale"], row
        assert "marketdata.stale" not in [k for k, _ in sink.events], sink.events
        assert row["state"] == "streaming", row
        # the node hears of the book once: an unchanged book is no new quote
        assert len(sink.quotes) == 1, sink.quotes
    finally:
        await hub.stop()
