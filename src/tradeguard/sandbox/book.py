"""One market's order book: price levels in price-time priority."""

from __future__ import annotations

import contextlib
from collections import deque
from decimal import Decimal

from sortedcontainers import SortedDict

from tradeguard.model.money import ZERO, quantize_down
from tradeguard.sandbox.orders import BUY, SELL, EngineOrder


class Book:
    """One market's resting orders: price -> FIFO queue, bids best-first, asks best-first."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict(lambda p: -p)
        self.asks: SortedDict = SortedDict()

    def side(self, side: str) -> SortedDict:
        return self.bids if side == BUY else self.asks

    def add(self, order: EngineOrder) -> None:
        levels = self.side(order.side)
        queue = levels.get(order.price)
        if queue is None:
            queue = levels[order.price] = deque()
        queue.append(order)
        order.on_book = True

    def remove(self, order: EngineOrder) -> None:
        levels = self.side(order.side)
        queue = levels.get(order.price)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(order)
            if not queue:
                del levels[order.price]
        order.on_book = False

    def levels(self, side: str, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for price, queue in self.side(side).items():
            out.append((price, sum((o.remaining for o in queue), ZERO)))
            if depth is not None and len(out) >= depth:
                break
        return out


def crosses(taker_side: str, limit: Decimal | None, maker_price: Decimal) -> bool:
    """Whether a taker on `taker_side` with `limit` (None: market) trades at `maker_price`."""
    if limit is None:
        return True
    return maker_price <= limit if taker_side == BUY else maker_price >= limit


def simulate(
    book: Book,
    side: str,
    limit: Decimal | None,
    *,
    qty: Decimal | None = None,
    quote: Decimal | None = None,
    step: Decimal = ZERO,
) -> tuple[Decimal, Decimal]:
    """Walk the opposite side without changing it: (base filled, quote spent/received)."""
    filled = ZERO
    cost = ZERO
    opposite = SELL if side == BUY else BUY
    for level_price, level_qty in book.levels(opposite):
        if not crosses(side, limit, level_price):
            break
        if qty is not None:
            take = min(level_qty, qty - filled)
        else:
            assert quote is not None
            take = min(level_qty, quantize_down((quote - cost) / level_price, step))
        if take <= 0:
            break
        filled += take
        cost += take * level_price
    return filled, cost
