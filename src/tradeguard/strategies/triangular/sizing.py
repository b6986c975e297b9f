"""Largest executable size of a cycle: walk each leg's book, then round and check minimums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO, dec, quantize_down
from tradeguard.strategies.triangular.markets import ArbMarket, Levels
from tradeguard.strategies.triangular.opportunity import LegAmount

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class LegBook:
    """A leg with the book side it consumes: bids for a sell, asks for a buy."""

    market: ArbMarket
    side: Side
    fee: Decimal
    levels: tuple[tuple[Decimal, Decimal], ...]  # (price, base size), best first

    @property
    def capacity_in(self) -> Decimal:
        """Return the most the book can absorb, in the leg's input asset."""
        if self.side is Side.SELL:
            return sum((q for _, q in self.levels), ZERO)
        return sum((p * q for p, q in self.levels), ZERO)

    def base_for_quote(self, quote: Decimal) -> Decimal:
        """Return the base bought by spending `quote` down the asks (capped by depth)."""
        base, left = ZERO, quote
        for p, q in self.levels:
            cost = p * q
            if cost >= left:
                return base + left / p
            base += q
            left -= cost
        return base

    def walk(self, base: Decimal) -> tuple[Decimal, Decimal]:
        """Return (quote value, worst price) of trading `base` through the levels."""
        value, left, worst = ZERO, base, ZERO
        for p, q in self.levels:
            if left <= 0:
                break
            take = min(q, left)
            value += take * p
            left -= take
            worst = p
        return value, worst

    def input_for_output(self, out: Decimal) -> Decimal | None:
        """Return the input that yields `out` after the fee, or None if the book is too thin."""
        keep = ONE - self.fee
        if self.side is Side.SELL:
            gross, base = out / keep, ZERO
            for p, q in self.levels:
                if p * q >= gross:
                    return base + gross / p
                base += q
                gross -= p * q
            return None
        want = out / keep
        if want > sum((q for _, q in self.levels), ZERO):
            return None
        value, _ = self.walk(want)
        return value


@dataclass(frozen=True, slots=True)
class SizeResult:
    """A cycle's largest executable size (start asset), its leg amounts and the binding limit."""

    max_size: Decimal
    legs: tuple[LegAmount, ...]
    limited_by: str


def levels_from(raw: Levels) -> tuple[tuple[Decimal, Decimal], ...]:
    """Convert book levels of floats, strings or Decimals to positive Decimal pairs."""
    out = []
    for level in raw:
        p, q = dec(level[0], "price"), dec(level[1], "size")
        if p > 0 and q > 0:
            out.append((p, q))
    return tuple(out)


def max_cycle_size(legs: Sequence[LegBook]) -> SizeResult:
    """Size a cycle: cap by every leg's depth, then round leg by leg, chaining each output."""
    for leg in legs:
        if not leg.levels:
            return SizeResult(ZERO, (), f"no_depth:{leg.market.symbol}")
    # The start amount that saturates leg i: pull its capacity back through legs i-1..0.
    best: Decimal | None = None
    binding = ""
    for i, leg in enumerate(legs):
        need: Decimal | None = leg.capacity_in
        for prev in reversed(legs[:i]):
            assert need is not None
            need = prev.input_for_output(need)
            if need is None:  # an earlier leg's depth binds first
                break
        if need is not None and (best is None or need < best):
            best, binding = need, f"depth:{leg.market.symbol}"
    assert best is not None
    amounts: list[LegAmount] = []
    amount = best
    for leg in legs:
        m = leg.market
        keep = ONE - leg.fee
        if leg.side is Side.SELL:
            base = quantize_down(min(amount, leg.capacity_in), m.amount_step)
            value, worst = leg.walk(base)
            spent, received = base, value * keep
        else:
            base = quantize_down(leg.base_for_quote(amount), m.amount_step)
            value, worst = leg.walk(base)
            spent, received = value, base * keep
        if base <= 0 or base < m.min_amount:
            return SizeResult(ZERO, (), f"min_amount:{m.symbol}")
        if value < m.min_notional:
            return SizeResult(ZERO, (), f"min_notional:{m.symbol}")
        amounts.append(LegAmount(spent, base, worst, received))
        amount = received
    return SizeResult(amounts[0].amount_in, tuple(amounts), binding)
