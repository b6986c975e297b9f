"""MarketState: the latest candle, quote and book per symbol, and the instrument registry."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote


class MarketState:
    """What strategies and the risk engine read about the market (the risk `MarketView`)."""

    def __init__(self) -> None:
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.candles: dict[str, Candle] = {}
        self.quotes: dict[str, Quote] = {}
        self.books: dict[str, Any] = {}
        self._last_ms: dict[str, int] = {}
        # symbol -> {stream kind: time of its last message} for live streams gone silent
        self.stalled: dict[str, dict[str, int]] = {}
        self._mid: dict[str, Decimal] = {}
        # called with every candle after it is stored (e.g. the alerts' volume watch)
        self.candle_listeners: list[Callable[[Candle], None]] = []

    def add_instrument(self, inst: Instrument) -> None:
        self.instruments[(inst.venue, inst.symbol)] = inst

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get((venue, symbol))

    def on_candle(self, candle: Candle) -> None:
        sym = candle.symbol
        self.candles[sym] = candle
        self._last_ms[sym] = candle.close_ts
        if sym not in self.quotes:
            self._mid[sym] = candle.close
        for listener in self.candle_listeners:
            listener(candle)

    def on_quote(self, quote: Quote) -> None:
        self.quotes[quote.symbol] = quote
        self._last_ms[quote.symbol] = quote.ts
        self._mid[quote.symbol] = quote.mid

    def on_book(self, book: Any) -> None:
        self.books[book.symbol] = book
        self._last_ms[book.symbol] = book.ts
        mid = book.mid()
        if mid is not None:
            self._mid[book.symbol] = mid

    def mid(self, symbol: str) -> Decimal | None:
        return self._mid.get(symbol)

    def stall(self, symbol: str, stream: str, last_ms: int) -> None:
        """Mark one live stream of `symbol` silent since `last_ms` (its data is that old)."""
        self.stalled.setdefault(symbol, {})[stream] = last_ms

    def unstall(self, symbol: str, stream: str) -> None:
        """A silent stream of `symbol` spoke again."""
        kinds = self.stalled.get(symbol)
        if kinds is not None:
            kinds.pop(stream, None)
            if not kinds:
                del self.stalled[symbol]

    def last_update_ms(self, symbol: str) -> int | None:
        """When `symbol`'s market data was last fresh: while one of its live streams is silent,
        that stream's last message, even if other streams go on (a stalled book is stale data)."""
        last = self._last_ms.get(symbol)
        stalled = self.stalled.get(symbol)
        if stalled:
            oldest = min(stalled.values())
            return oldest if last is None else min(last, oldest)
        return last
