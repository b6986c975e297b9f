"""MarketState: the latest candle, quote and book per symbol and per (venue, symbol), and the
instrument registry.

Data tagged with its venue (live streams) is kept per venue as well: two venues trading one
symbol have two prices, and whoever asks for a venue's price gets that venue's. Untagged data
(`venue` "", a replay feeding every venue) is one price for every venue, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote
from tradeguard.model.pending import settled

VenueKey = tuple[str, str]  # venue, symbol


class MarketState:
    """What strategies and the risk engine read about the market (the risk `MarketView`)."""

    candles: dict[str, Candle] = settled("_candles", "by symbol: the latest from any venue")

    def __init__(self) -> None:
        self.instruments: dict[tuple[str, str], Instrument] = {}
        # by symbol: the latest from any venue
        self._candles: dict[str, Candle] = {}  # `candles`
        self.quotes: dict[str, Quote] = {}
        self.books: dict[str, Any] = {}
        self._last_ms: dict[str, int] = {}
        # symbol -> {stream kind: time of its last message} for live streams gone silent
        self.stalled: dict[str, dict[str, int]] = {}
        self._mid: dict[str, Decimal] = {}
        # by (venue, symbol): only data tagged with its venue
        self.venue_quotes: dict[VenueKey, Quote] = {}
        self.venue_books: dict[VenueKey, Any] = {}
        self._venue_mid: dict[VenueKey, Decimal] = {}
        self._venue_ms: dict[VenueKey, int] = {}
        self._tagged: set[str] = set()  # symbols some venue's tagged data priced
        # a venue trading on another's market data (a paper venue's `data_venue`) -> that venue
        self.data_venue: dict[str, str] = {}
        # venues following no venue's data (a paper venue without data_venue): they take any
        self.untied: set[str] = set()
        # called with every candle after it is stored (e.g. the alerts' volume watch)
        self.candle_listeners: list[Callable[[Candle], None]] = []
        # a replay's candles not yet written here (backtest/steady_pending.py): its `settle`
        # writes them, called before anything here is read or written
        self.pending: Any = None

    def add_instrument(self, inst: Instrument) -> None:
        self.instruments[(inst.venue, inst.symbol)] = inst

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get((venue, symbol))

    def price_venue(self, venue: str) -> str:
        """The venue whose market data prices `venue`'s orders (itself, unless it follows one)."""
        return self.data_venue.get(venue, venue)

    def follows(self, venue: str, source: str) -> bool:
        """Tell whether `venue` trades on the market data of `source`."""
        return venue in self.untied or self.data_venue.get(venue, venue) == source

    def on_candle(self, candle: Candle) -> None:
        if self.pending is not None:
            self.pending.settle()
        sym = candle.symbol
        self._candles[sym] = candle
        self._last_ms[sym] = close_ts = candle.ts + candle.interval_s * 1000  # its close_ts
        if sym not in self.quotes:
            self._mid[sym] = candle.close
        if candle.venue:
            key = (candle.venue, sym)
            self._venue_ms[key] = close_ts
            if key not in self.venue_quotes:
                self._tag(key, candle.close)
        for listener in self.candle_listeners:
            listener(candle)

    def on_quote(self, quote: Quote) -> None:
        if self.pending is not None:
            self.pending.settle()
        self.quotes[quote.symbol] = quote
        self._last_ms[quote.symbol] = quote.ts
        self._mid[quote.symbol] = quote.mid
        if quote.venue:
            key = (quote.venue, quote.symbol)
            self.venue_quotes[key] = quote
            self._venue_ms[key] = quote.ts
            self._tag(key, quote.mid)

    def on_book(self, book: Any) -> None:
        if self.pending is not None:
            self.pending.settle()
        self.books[book.symbol] = book
        self._last_ms[book.symbol] = book.ts
        mid = book.mid()
        if mid is not None:
            self._mid[book.symbol] = mid
        venue = getattr(book, "venue", "")
        if venue:
            key = (venue, book.symbol)
            self.venue_books[key] = book
            self._venue_ms[key] = book.ts
            if mid is not None:
                self._tag(key, mid)

    def _tag(self, key: VenueKey, mid: Decimal) -> None:
        self._venue_mid[key] = mid
        self._tagged.add(key[1])

    def mid(self, symbol: str, venue: str | None = None) -> Decimal | None:
        """The mid price of `symbol`; with `venue`, that venue's own (None while it has none and
        another venue's data prices the symbol: one venue's price never stands for another's)."""
        if self.pending is not None:
            self.pending.settle()
        if venue is None or symbol not in self._tagged or venue in self.untied:
            return self._mid.get(symbol)
        return self._venue_mid.get((self.price_venue(venue), symbol))

    def quote(self, symbol: str, venue: str | None = None) -> Quote | None:
        """The latest quote of `symbol`; with `venue`, that venue's own (as `mid`)."""
        if venue is None or symbol not in self._tagged or venue in self.untied:
            return self.quotes.get(symbol)
        return self.venue_quotes.get((self.price_venue(venue), symbol))

    def book(self, symbol: str, venue: str | None = None) -> Any:
        """The latest L2 book of `symbol`; with `venue`, that venue's own (as `mid`)."""
        if venue is None or symbol not in self._tagged or venue in self.untied:
            return self.books.get(symbol)
        return self.venue_books.get((self.price_venue(venue), symbol))

    def valuation_mid(self, venue: str, symbol: str) -> tuple[Decimal | None, bool]:
        """`venue`'s mid of `symbol` for valuing holdings, else another venue's; the flag tells
        that the price is another venue's."""
        if self.pending is not None:
            self.pending.settle()
        own = self.mid(symbol, venue)
        if own is not None:
            return own, False
        other = self._mid.get(symbol)
        return other, other is not None

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

    def last_update_ms(self, symbol: str, venue: str | None = None) -> int | None:
        """When `symbol`'s market data was last fresh: while one of its live streams is silent,
        that stream's last message, even if other streams go on (a stalled book is stale data).
        With `venue`, that venue's own data and streams (as `mid`)."""
        if self.pending is not None:
            self.pending.settle()
        stalled = self.stalled.get(symbol)
        if venue is None or symbol not in self._tagged or venue in self.untied:
            last = self._last_ms.get(symbol)
        else:
            source = self.price_venue(venue)
            last = self._venue_ms.get((source, symbol))
            if stalled:
                prefix = f"{source}/"
                stalled = {k: v for k, v in stalled.items() if k.startswith(prefix)}
        if stalled:
            oldest = min(stalled.values())
            return oldest if last is None else min(last, oldest)
        return last
