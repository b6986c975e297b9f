"""L2 order book per symbol, and a builder that applies snapshot/delta events in sequence.

Each side is a dict price -> amount (O(1) amount changes, the common case) plus a
`SortedList` of prices touched only when a level appears or disappears.

Crossed input: the book stores what the venue sent. A delta can leave it crossed
(best bid >= best ask) until the other side's update arrives, so nothing is removed or
"fixed" here; `is_crossed()` reports the state and consumers that match against the
book must check it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedList

from tradeguard.marketdata.errors import BookSequenceError
from tradeguard.marketdata.events import BookDelta, BookEvent, BookSnapshot

Level = tuple[Decimal, Decimal]


class _BookSide:
    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.levels: dict[Decimal, Decimal] = {}
        self.prices: SortedList = SortedList()

    def reset(self, levels: Iterable[Level], side: str) -> None:
        fresh: dict[Decimal, Decimal] = {}
        for price, amount in levels:
            if amount < 0:
                raise ValueError(f"{side} level {price}: amount {amount} is negative")
            if amount:
                fresh[price] = amount
        self.levels = fresh
        self.prices = SortedList(fresh)

    def set(self, price: Decimal, amount: Decimal) -> None:
        levels = self.levels
        if amount:
            if amount < 0:
                raise ValueError(f"level {price}: amount {amount} is negative (0 removes)")
            if price not in levels:
                self.prices.add(price)
            levels[price] = amount
        elif price in levels:
            del levels[price]
            self.prices.remove(price)


class OrderBook:
    """One symbol's L2 book: price levels with Decimal amounts, best levels first."""

    def __init__(self, symbol: str, venue: str = "") -> None:
        self.symbol = symbol
        self.venue = venue  # where the book is kept ("" when one feed serves every venue)
        self.ts = 0
        self.seq = 0
        self._bids = _BookSide()
        self._asks = _BookSide()

    def apply_snapshot(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        ts: int,
        seq: int = 0,
    ) -> None:
        """Replace the whole book; levels with amount 0 are ignored."""
        self._bids.reset(bids, "bid")
        self._asks.reset(asks, "ask")
        self.ts = ts
        self.seq = seq

    def apply_delta(
        self, side: str, price: Decimal, amount: Decimal, ts: int, seq: int = 0
    ) -> None:
        """Set one level's absolute amount on side "bid" or "ask"; amount 0 removes the level."""
        if side == "bid":
            self._bids.set(price, amount)
        elif side == "ask":
            self._asks.set(price, amount)
        else:
            raise ValueError(f"{self.symbol}: side {side!r} is not 'bid' or 'ask'")
        self.ts = ts
        if seq:
            self.seq = seq

    def apply_levels(
        self, bids: Iterable[Level], asks: Iterable[Level], ts: int, seq: int = 0
    ) -> None:
        """Apply one venue message's level changes to both sides (amount 0 removes)."""
        set_bid = self._bids.set
        for price, amount in bids:
            set_bid(price, amount)
        set_ask = self._asks.set
        for price, amount in asks:
            set_ask(price, amount)
        self.ts = ts
        if seq:
            self.seq = seq

    def best_bid(self) -> Level | None:
        """Return the highest bid (price, amount), or None if there are no bids."""
        prices = self._bids.prices
        if not prices:
            return None
        price = prices[-1]
        return price, self._bids.levels[price]

    def best_ask(self) -> Level | None:
        """Return the lowest ask (price, amount), or None if there are no asks."""
        prices = self._asks.prices
        if not prices:
            return None
        price = prices[0]
        return price, self._asks.levels[price]

    def bids(self, depth: int | None = None) -> list[Level]:
        """Return bid levels, highest price first, at most `depth` of them."""
        side = self._bids
        n = len(side.prices)
        start = 0 if depth is None else max(n - depth, 0)
        levels = side.levels
        return [(p, levels[p]) for p in side.prices.islice(start, n, reverse=True)]

    def asks(self, depth: int | None = None) -> list[Level]:
        """Return ask levels, lowest price first, at most `depth` of them."""
        side = self._asks
        levels = side.levels
        return [(p, levels[p]) for p in side.prices.islice(0, depth)]

    def mid(self) -> Decimal | None:
        """Return the mid price, or None while either side is empty."""
        bids, asks = self._bids.prices, self._asks.prices
        if not bids or not asks:
            return None
        return (bids[-1] + asks[0]) / 2

    def spread(self) -> Decimal | None:
        """Return best ask minus best bid (negative when crossed), or None if a side is empty."""
        bids, asks = self._bids.prices, self._asks.prices
        if not bids or not asks:
            return None
        return asks[0] - bids[-1]

    def is_crossed(self) -> bool:
        """Tell whether the best bid is at or above the best ask."""
        spread = self.spread()
        return spread is not None and spread <= 0

    def level_count(self) -> tuple[int, int]:
        """Return the number of (bid, ask) levels."""
        return len(self._bids.levels), len(self._asks.levels)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, ts={self.ts}, seq={self.seq}, "
            f"best_bid={self.best_bid()}, best_ask={self.best_ask()})"
        )


class BookBuilder:
    """Apply loaded snapshots and deltas to one `OrderBook`, enforcing update-id order.

    Rules, by what the venue sends:
    - a snapshot always resets the book (Bybit re-sends one after a service restart);
    - a delta older than the book (`seq` below the book's) is skipped as stale;
    - the first delta after a snapshot with `first_seq` (Binance `U`) must start at or before
      snapshot id + 1, else updates were missed;
    - later deltas with `prev_seq` (Binance futures `pu`) must chain to the last applied `seq`;
      with only `first_seq` (Binance spot) they must start at last `seq` + 1;
    - deltas without ids beyond `seq` (Bybit `u`) only need to move forward.
    A gap raises `BookSequenceError` when `strict`; otherwise it is counted in `gaps` and the
    delta is applied anyway (useful to inspect recorded files with holes).
    """

    def __init__(self, symbol: str, strict: bool = True, book: OrderBook | None = None) -> None:
        self.book = book if book is not None else OrderBook(symbol)
        self.strict = strict
        self.gaps = 0
        self.skipped = 0
        self._synced = False
        self._fresh = False

    def apply(self, event: BookEvent) -> bool:
        """Apply one event; return False when a stale delta was skipped."""
        book = self.book
        if event.symbol != book.symbol:
            raise ValueError(
                f"event for {event.symbol!r} given to the {book.symbol!r} book builder"
            )
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event.bids, event.asks, event.ts, event.seq)
            self._synced = True
            self._fresh = True
            return True
        if not self._synced:
            self._gap(f"delta seq {event.seq} arrived before any snapshot")
        last = book.seq
        if last and event.seq < last:
            self.skipped += 1
            return False
        if self._synced and last:
            self._check_chain(event, last)
        book.apply_levels(event.bids, event.asks, event.ts, event.seq)
        self._fresh = False
        return True

    def apply_all(self, events: Iterable[BookEvent]) -> OrderBook:
        """Apply every event in order and return the book."""
        for event in events:
            self.apply(event)
        return self.book

    def _check_chain(self, event: BookDelta, last: int) -> None:
        if self._fresh:
            if event.first_seq is not None and event.first_seq > last + 1:
                self._gap(
                    f"first delta after snapshot {last} starts at update {event.first_seq}; "
                    "the updates in between are missing",
                    last + 1,
                    event.first_seq,
                )
        elif event.prev_seq is not None:
            if event.prev_seq != last:
                self._gap("delta does not chain to the last update (pu)", last, event.prev_seq)
        elif event.first_seq is not None and event.first_seq != last + 1:
            self._gap("delta skips update ids", last + 1, event.first_seq)

    def _gap(self, message: str, expected: int | None = None, got: int | None = None) -> None:
        if self.strict:
            raise BookSequenceError(self.book.symbol, message, expected, got)
        self.gaps += 1


def build_book(events: Iterable[BookEvent], symbol: str, strict: bool = True) -> OrderBook:
    """Apply a symbol's loaded events in order and return the resulting book."""
    return BookBuilder(symbol, strict=strict).apply_all(events)
