"""The way back for a stranded asset: routes over every market the venue lists.

Simple routes of at most `max_unwind_hops` orders, ranked at top of book after fees, the best
few walked through the current books at the stranded amount; the fewest hops that stay within
the loss bound win, the one returning the most among them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.strategies.gateway import ExecutionGateway, within_band
from tradeguard.strategies.triangular.exec_book import (
    HUNDRED,
    affordable,
    below_minimum,
    order_amount,
    product,
    round_price,
    walk_levels,
)
from tradeguard.strategies.triangular.exec_config import TriangularExecConfig
from tradeguard.strategies.triangular.exec_records import LegExecution


@dataclass(slots=True)
class Stranded:
    """Asset left between legs: amount, its cost in the start asset, and where it sits."""

    asset: str
    amount: Decimal
    cost: Decimal
    position: int  # index of the forward leg whose input it is


@dataclass(frozen=True, slots=True)
class Hop:
    """One order of a way back: a market, the side that leaves `from_asset`, its taker fee."""

    symbol: str
    side: Side
    from_asset: str
    to_asset: str
    fee: Decimal


Route = tuple[Hop, ...]
ROUTE_BEAM = 3  # partial routes kept per asset reached while searching
ROUTES_PER_LENGTH = 3  # best routes of each length at top of book, then walked through the books


class UnwindRouter:
    """Find the way back to the start asset for what a cycle left stranded."""

    def __init__(self, gateway: ExecutionGateway, config: TriangularExecConfig) -> None:
        self.gateway = gateway
        self.config = config
        self._unwind_loss = config.max_unwind_loss_pct / HUNDRED
        self._adjacency_of: tuple[int, dict[str, list[Hop]]] | None = None  # by market count

    def way_back(self, s: Stranded, start: str) -> tuple[Route | None, bool]:
        """Return the route to unwind a stranded amount by (None if none), and whether it is dust.

        Safety first: the fewest hops that trade the whole amount within the loss bound at the
        current books, the best return among those. When no route is within the bound, the
        shortest one is still tried: its limits hold the bound and the venue has the last word.
        An amount below the first order's minimums on every route is dust.
        """
        if s.amount <= 0 or s.cost <= 0:
            return None, True
        floor_rate = s.cost / s.amount * (ONE - self._unwind_loss)
        direct = self._direct_hop(s.asset, start)
        fallback: Route | None = None
        found = False
        for length, routes in enumerate(self._routes(s.asset, start), 1):
            if length == 1 and direct is not None and (direct,) not in routes:
                routes.append((direct,))  # unquoted here: the venue answers at the bound
            found = found or bool(routes)
            best: Route | None = None
            best_end = ZERO
            for route in routes:
                first = route[0]
                price = self._top_price(first) or self._break_even_price(first, s)
                if not self._fits(first, s.amount, price):
                    continue
                fallback = fallback or route
                priced = self.price_route(route, s.amount)
                if priced is None:
                    continue
                rates, end, complete = priced
                if complete and product(rates) >= floor_rate and (best is None or end > best_end):
                    best, best_end = route, end
            if best is not None:
                return best, False
        if fallback is not None:
            return fallback, False
        return None, found

    def _adjacency(self) -> dict[str, list[Hop]]:
        """Return, per asset, the orders that leave it on any of the venue's markets."""
        listed = self.gateway.instruments()
        if self._adjacency_of is not None and self._adjacency_of[0] == len(listed):
            return self._adjacency_of[1]
        out: dict[str, list[Hop]] = {}
        for inst in listed:
            if inst.base == inst.quote:
                continue
            fee = inst.taker_fee
            out.setdefault(inst.quote, []).append(
                Hop(inst.symbol, Side.BUY, inst.quote, inst.base, fee)
            )
            out.setdefault(inst.base, []).append(
                Hop(inst.symbol, Side.SELL, inst.base, inst.quote, fee)
            )
        self._adjacency_of = (len(listed), out)
        return out

    def _routes(self, asset: str, start: str) -> Iterator[list[Route]]:
        """Yield simple quoted routes from `asset` to `start`, one list per length, best first.

        Routes are ranked at top of book after fees, `ROUTES_PER_LENGTH` of each length. The
        search goes one hop further only when asked for the next length, and at each asset
        reached only the `ROUTE_BEAM` best partial routes go on: the work stays linear in the
        venue's markets.
        """
        adjacency = self._adjacency()
        log_rates: dict[tuple[str, Side], float | None] = {}

        def log_rate(hop: Hop) -> float | None:
            key = (hop.symbol, hop.side)
            if key not in log_rates:
                price = self._top_price(hop)
                rate = None
                if price is not None and price > 0 and hop.fee < 1:
                    gross = price if hop.side is Side.SELL else ONE / price
                    rate = math.log(gross * (ONE - hop.fee))
                log_rates[key] = rate
            return log_rates[key]

        frontier: list[tuple[float, Route, tuple[str, ...]]] = [(0.0, (), (asset,))]
        hops = self.config.max_unwind_hops
        for depth in range(hops):
            found: list[tuple[float, Route]] = []
            reached: dict[str, list[tuple[float, Route, tuple[str, ...]]]] = {}
            for score, route, seen in frontier:
                for hop in adjacency.get(seen[-1], ()):
                    if hop.to_asset in seen:
                        continue
                    rate = log_rate(hop)
                    if rate is None:
                        continue
                    item = (score + rate, (*route, hop), (*seen, hop.to_asset))
                    if hop.to_asset == start:
                        found.append(item[:2])
                    elif depth + 1 < hops:
                        reached.setdefault(hop.to_asset, []).append(item)
            yield [r for _, r in heapq.nlargest(ROUTES_PER_LENGTH, found, key=lambda it: it[0])]
            frontier = [
                item
                for items in reached.values()
                for item in heapq.nlargest(ROUTE_BEAM, items, key=lambda it: it[0])
            ]

    def _direct_hop(self, asset: str, start: str) -> Hop | None:
        inst = self.gateway.instrument(f"{asset}/{start}")
        if inst is not None:
            return Hop(inst.symbol, Side.SELL, asset, start, inst.taker_fee)
        inst = self.gateway.instrument(f"{start}/{asset}")
        if inst is not None:
            return Hop(inst.symbol, Side.BUY, asset, start, inst.taker_fee)
        return None

    def _top_price(self, hop: Hop) -> Decimal | None:
        levels = self.gateway.levels(hop.symbol, hop.side)
        return levels[0][0] if levels else None

    def _break_even_price(self, hop: Hop, s: Stranded) -> Decimal:
        """Return the price at which a direct hop returns exactly the stranded amount's cost."""
        return s.cost / s.amount if hop.side is Side.SELL else s.amount / s.cost

    def _fits(self, hop: Hop, amount: Decimal, price: Decimal) -> bool:
        """Tell whether `amount` of the hop's input makes an order above the market minimums."""
        inst = self.gateway.instrument(hop.symbol)
        if inst is None or price <= 0:
            return False
        buy = hop.side is Side.BUY
        qty = order_amount(
            self.config.fees_charged_in, amount, price, buy, inst.taker_fee, inst.amount_step
        )
        return not below_minimum(qty, price, inst.min_amount, inst.min_notional)

    async def banded(
        self, ex: LegExecution, limit: Decimal, bound: Decimal, inst: Instrument
    ) -> Decimal:
        """Return an unwind hop's `limit` to the tick, never beyond its loss `bound`, nor beyond
        the edge of risk.price_band_pct (a bound past it was refused, not sent, and what could
        have filled at the edge stayed held)."""
        price = round_price(limit, inst.price_tick, ex.side is Side.BUY, bound)
        return await within_band(self.gateway, ex.symbol, ex.side, price)

    def price_route(
        self, route: Route, amount: Decimal
    ) -> tuple[list[Decimal], Decimal, bool] | None:
        """Walk `amount` through each hop's current book.

        Return the gross rate of each hop, the amount at the end and whether every book was
        deep enough; None when a hop has no book or its order would be below the minimums.
        """
        rates: list[Decimal] = []
        complete = True
        for hop in route:
            inst = self.gateway.instrument(hop.symbol)
            levels = self.gateway.levels(hop.symbol, hop.side)
            if inst is None or not levels:
                return None
            buy = hop.side is Side.BUY
            fee = inst.taker_fee
            if buy:
                budget = amount / (ONE + fee) if self.config.fees_charged_in == "quote" else amount
                qty = quantize_down(affordable(levels, budget), inst.amount_step)
            else:
                qty = quantize_down(amount, inst.amount_step)
            filled, value = walk_levels(levels, qty)
            complete = complete and filled == qty
            if filled <= 0 or below_minimum(filled, value / filled, inst.min_amount, ZERO):
                return None
            if value < inst.min_notional:
                return None
            if buy:
                rates.append(filled / value)
                amount = filled if self.config.fees_charged_in == "quote" else filled * (ONE - fee)
            else:
                rates.append(value / filled)
                amount = value * (ONE - fee)
        return rates, amount, complete
