"""Quotes of binary outcomes from venue books (best levels and depth), and a polling stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from decimal import Decimal

from tradeguard.model.market import Quote
from tradeguard.model.money import ONE, ZERO
from tradeguard.model.outcome import Outcome
from tradeguard.secrets.redact import redact

Level = tuple[Decimal, Decimal]
DEPTH = 10  # levels per side handed to the node
# More contracts than any book holds; past Decimal's exponent range (1e999999999) a size is
# "finite" yet every sum or product of it raises decimal.Overflow (the scanner multiplies it)
MAX_LEVEL_SIZE = Decimal(10) ** 12


def quote_from_bids(
    symbol: str, outcome: Outcome, yes_bid: Level | None, no_bid: Level | None, ts: int
) -> Quote:
    """A quote for one outcome from the best YES and NO bids (an ask is the other side's bid)."""
    own, other = (yes_bid, no_bid) if outcome is Outcome.YES else (no_bid, yes_bid)
    bid, bid_size = own if own else (ZERO, ZERO)
    ask, ask_size = (ONE - other[0], other[1]) if other else (ONE, ZERO)
    return Quote(symbol, ts, bid, bid_size, ask, ask_size)


def depth_quote(
    symbol: str, bids: Iterable[Level], asks: Iterable[Level], ts: int, depth: int = DEPTH
) -> Quote:
    """A quote carrying up to `depth` levels a side (bids highest first, asks lowest first).
    A level no outcome can have (a price outside (0, 1), a size not above 0 or above
    `MAX_LEVEL_SIZE`, not finite: a venue answer gone wrong) is left out, so no strategy sees a
    price of -0.5 as a bargain."""
    b = tuple(sorted((lv for lv in bids if _possible(lv)), reverse=True)[:depth])
    a = tuple(sorted(lv for lv in asks if _possible(lv))[:depth])
    bid, bid_size = b[0] if b else (ZERO, ZERO)
    ask, ask_size = a[0] if a else (ONE, ZERO)
    return Quote(symbol, ts, bid, bid_size, ask, ask_size, b, a)


def _possible(level: Level) -> bool:
    price, size = level
    return (
        price.is_finite()
        and size.is_finite()
        and ZERO < price < ONE
        and ZERO < size <= MAX_LEVEL_SIZE
    )


def outcome_depth_quote(
    symbol: str,
    outcome: Outcome,
    yes_bids: Iterable[Level],
    no_bids: Iterable[Level],
    ts: int,
    depth: int = DEPTH,
) -> Quote:
    """One outcome's quote from both sides' bids: its asks are the other side's bids at 1 - p
    (only those a quote keeps: 1 - p of a p past Decimal's range raises decimal.Overflow)."""
    own, other = (yes_bids, no_bids) if outcome is Outcome.YES else (no_bids, yes_bids)
    asks = [(ONE - p, q) for p, q in other if _possible((p, q))]
    return depth_quote(symbol, own, asks, ts, depth)


def quote_key(q: Quote) -> tuple[object, ...]:
    """What makes a quote new to a consumer (the timestamp does not)."""
    return (q.bid, q.bid_size, q.ask, q.ask_size, q.bids, q.asks)


async def poll_quotes(
    fetch: Callable[[str], Awaitable[Quote]], symbols: list[str], every_s: float
) -> AsyncIterator[Quote]:
    """Yield each symbol's quote first, then whenever it changes; REST snapshots every `every_s`."""
    last: dict[str, tuple[object, ...]] = {}
    while True:
        for symbol in symbols:
            q = await fetch(symbol)
            key = quote_key(q)
            if last.get(symbol) != key:
                last[symbol] = key
                yield q
        await asyncio.sleep(every_s)


def network_failure(op: str, exc: BaseException, url: str) -> str:
    """Say that a request got no answer: the operation, the error and where it was sent."""
    detail = str(exc).strip()
    why = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return redact(f"{op} failed: {why} (no answer from {url}; is the venue up and rest_url right?)")
