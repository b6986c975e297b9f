"""A market that moves by itself: house quotes re-placed around a price path, with prints.

`quote_and_print` is one step: the house ladder is set so that its best level sits at the new
price (asks when the price fell, bids when it rose, so resting user orders at or through that
price trade), then the house prints a trade at that price. `RandomWalk` drives the demo markets
with a seeded random walk; `sandbox.replay` drives markets from recorded candles.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.money import ZERO, quantize_down
from tradeguard.sandbox.orders import BUY, SELL

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_LEVELS = 5
_GAP_PCT = Decimal("0.0002")  # spacing of the house ladder: 0.02 % of the price


@dataclass(frozen=True, slots=True)
class Depth:
    """How deep the house quotes: quantity per level and the number of levels a side."""

    level_qty: Decimal
    levels: int = _LEVELS


def quote_and_print(
    ex: SandboxExchange,
    symbol: str,
    price: Decimal,
    print_qty: Decimal,
    rising: bool,
    depth: Depth,
    at_ms: int | None = None,
) -> Decimal:
    """Move the house book to `price` and print `print_qty` there; return the quoted price."""
    spec = ex.engine.markets[symbol]
    p = max(quantize_down(price, spec.tick), spec.tick)
    gap = max(quantize_down(p * _GAP_PCT, spec.tick), spec.tick)
    qty = max(quantize_down(depth.level_qty, spec.step), spec.step)
    print_qty = quantize_down(print_qty, spec.step)
    near = [(p - gap * i if rising else p + gap * i, qty) for i in range(depth.levels)]
    far = [(p + gap * (i + 1) if rising else p - gap * (i + 1), qty) for i in range(depth.levels)]
    near[0] = (p, qty + print_qty)
    far = [(lvl, q) for lvl, q in far if lvl > 0]
    near = [(lvl, q) for lvl, q in near if lvl > 0]
    bids, asks = (near, far) if rising else (far, near)
    ex.set_book(symbol, bids, asks, at_ms)
    if print_qty > ZERO:
        ex.trade_through(symbol, SELL if rising else BUY, p, print_qty, at_ms)
        # The print takes from the house's own top level: the ladder to keep is what is left.
        near[0] = (p, qty)
        ex.refill.remember(symbol, *((near, far) if rising else (far, near)))
    return p


class RandomWalk:
    """Every `every_ms`, move each market's price by a seeded Gaussian step and print a trade."""

    def __init__(
        self,
        ex: SandboxExchange,
        symbols: list[str],
        every_ms: int,
        step_pct: Decimal,
        seed: int,
    ) -> None:
        self.ex = ex
        self.every_ms = every_ms
        self.step = float(step_pct) / 100
        self.rng = random.Random(seed)
        self.prices: dict[str, Decimal] = {}
        self.depths: dict[str, Depth] = {}
        for s in symbols:
            bid, ask = ex.engine.best(s)
            last = ex.engine.last_price(s)
            if last is None:
                continue
            self.prices[s] = last
            level = max(bid[1] if bid else ZERO, ask[1] if ask else ZERO)
            self.depths[s] = Depth(level or Decimal(1))
        self.steps = 0

    def step_once(self) -> None:
        """Move every market one step."""
        for symbol, price in self.prices.items():
            move = Decimal(str(round(self.rng.gauss(0.0, self.step), 8)))
            new = price * (1 + move)
            depth = self.depths[symbol]
            size = depth.level_qty * Decimal(str(round(self.rng.uniform(0.01, 0.1), 4)))
            self.prices[symbol] = quote_and_print(self.ex, symbol, new, size, new >= price, depth)
        self.steps += 1

    async def run(self) -> None:
        """Step until cancelled."""
        while True:
            await asyncio.sleep(self.every_ms / 1000)
            self.step_once()
