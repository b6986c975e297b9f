"""The market-data side of a venue, as the live hub uses it (implemented in `venues/`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

from tradeguard.marketdata.events import BookSnapshot
from tradeguard.model.market import Candle, Quote, TradeTick

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback


class MarketSource(Protocol):
    """One venue's public market data: REST snapshots and one-shot stream waits.

    Each `watch_*` call waits for the next update of its stream and returns it (the first call
    subscribes); a failure raises, and the caller decides when to resubscribe. `streams` names
    the kinds this venue can stream; the others are polled through the `fetch_*` calls.
    """

    name: str

    def streams(self) -> set[str]: ...

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]: ...

    async def watch_candles(self, symbol: str, timeframe: str) -> list[Candle]: ...

    async def fetch_book(self, symbol: str, depth: int) -> BookSnapshot: ...

    async def watch_book(self, symbol: str, depth: int) -> BookSnapshot: ...

    async def fetch_trades(self, symbol: str, since_ms: int | None) -> list[TradeTick]: ...

    async def watch_trades(self, symbol: str) -> list[TradeTick]: ...

    async def fetch_quote(self, symbol: str) -> Quote | None: ...

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]: ...


class QuoteStreamSource:
    """A venue that streams best bid/ask only (prediction markets, DEX pools) as a source.

    `quotes_polled`: the venue reads its quotes from REST by design (a data-only Kalshi venue,
    a venue without a WebSocket): the stream's state is `polled`, not a fallback. A venue with
    `stream_quotes_reporting` tells the hub while REST stands in for its WebSocket.
    """

    serves = frozenset({"quotes"})

    def __init__(
        self, name: str, stream: Callable[[list[str]], AsyncIterator[Quote]], venue: Any = None
    ) -> None:
        self.name = name
        self._stream = stream
        self.quotes_polled = bool(getattr(venue, "quotes_polled", False))
        self._reporting = getattr(venue, "stream_quotes_reporting", None)

    def streams(self) -> set[str]:
        return {"quotes"}

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self._stream(symbols)

    def stream_quotes_reporting(
        self, symbols: list[str], fallback: RestFallback
    ) -> AsyncIterator[Quote]:
        if self._reporting is None:
            return self._stream(symbols)
        return self._reporting(symbols, fallback)

    async def fetch_quote(self, symbol: str) -> Quote | None:
        return None
