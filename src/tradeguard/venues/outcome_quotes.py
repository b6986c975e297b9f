"""Best bid/ask of binary outcomes from venue books, and a polling quote stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

from tradeguard.model.market import Quote
from tradeguard.model.money import ONE, ZERO
from tradeguard.model.outcome import Outcome

Level = tuple[Decimal, Decimal]


def quote_from_bids(
    symbol: str, outcome: Outcome, yes_bid: Level | None, no_bid: Level | None, ts: int
) -> Quote:
    """A quote for one outcome from the best YES and NO bids (an ask is the other side's bid)."""
    own, other = (yes_bid, no_bid) if outcome is Outcome.YES else (no_bid, yes_bid)
    bid, bid_size = own if own else (ZERO, ZERO)
    ask, ask_size = (ONE - other[0], other[1]) if other else (ONE, ZERO)
    return Quote(symbol, ts, bid, bid_size, ask, ask_size)


async def poll_quotes(
    fetch: Callable[[str], Awaitable[Quote]], symbols: list[str], every_s: float
) -> AsyncIterator[Quote]:
    """Yield each symbol's quote first, then whenever it changes; REST snapshots every `every_s`."""
    last: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    while True:
        for symbol in symbols:
            q = await fetch(symbol)
            key = (q.bid, q.bid_size, q.ask, q.ask_size)
            if last.get(symbol) != key:
                last[symbol] = key
                yield q
        await asyncio.sleep(every_s)
