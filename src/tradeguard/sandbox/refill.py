"""House refill: the house quotes again what clients took, so books stay two-sided.

The house remembers the ladder it last quoted on each market (each `set_book`: seeding, the
random walk, replays, drift moves, `POST /admin/book`). Every `house_refill_ms` (default
1000 ms; 0 = off), a market whose book holds less than that ladder at any of its prices gets
the whole ladder quoted again at the same prices: the price the house last quoted around, with
its spread and depth. A market the arbitrage drift holds moved is left alone until the drift
puts it back, so a move stays gone once a client takes it. The refill draws no random numbers:
the same seed and the same client orders give the same books. Quoting goes through
`set_book`, so clients see a refill as any book change (depth and bookTicker streams), and a
refilled level that crosses a client's resting order trades with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.money import ZERO

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

Levels = list[tuple[Decimal, Decimal]]


def _levels(levels: Iterable[tuple[Decimal, Decimal]], best_high: bool) -> Levels:
    """Levels summed by price, best first (bids high to low, asks low to high)."""
    by_price: dict[Decimal, Decimal] = {}
    for price, qty in levels:
        if qty > 0:
            by_price[price] = by_price.get(price, ZERO) + qty
    return sorted(by_price.items(), reverse=best_high)


class HouseRefill:
    """Remember each market's house ladder and quote it again once clients have taken from it."""

    def __init__(self, ex: SandboxExchange, every_ms: int) -> None:
        self.ex = ex
        self.every_ms = every_ms
        self.ladders: dict[str, tuple[Levels, Levels]] = {}
        self.refills = 0  # markets quoted again so far

    def remember(
        self,
        symbol: str,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
    ) -> None:
        """Record the ladder the house now means to quote on `symbol`."""
        self.ladders[symbol] = (_levels(bids, True), _levels(asks, False))

    def ladder(self, symbol: str) -> tuple[Levels, Levels] | None:
        """The house's ladder on `symbol` (bids, asks; best first), None if it never quoted."""
        return self.ladders.get(symbol)

    def short(self, symbol: str) -> bool:
        """Tell whether the book holds less than the house's ladder at one of its prices."""
        bids, asks = self.ladders[symbol]
        depth = self.ex.engine.depth(symbol)
        for want, have in ((bids, depth["bids"]), (asks, depth["asks"])):
            at = dict(have)
            if any(at.get(price, ZERO) < qty for price, qty in want):
                return True
        return False

    def refill_once(self) -> list[str]:
        """Quote the ladder again on every market short of it; return those markets."""
        drift = self.ex.drift
        held = drift.current.symbol if drift is not None and drift.current is not None else None
        done = []
        for symbol in sorted(self.ladders):
            if symbol == held or not self.short(symbol):
                continue
            bids, asks = self.ladders[symbol]
            self.ex.set_book(symbol, bids, asks)
            done.append(symbol)
        self.refills += len(done)
        return done

    async def run(self) -> None:
        """Refill every `every_ms` until cancelled."""
        while True:
            await asyncio.sleep(self.every_ms / 1000)
            self.refill_once()
