"""What the scanner hands on: a priced cycle of legs with its profit and executable size."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO


@dataclass(frozen=True, slots=True)
class Leg:
    """One conversion: buy at the ask (quote -> base) or sell at the bid (base -> quote)."""

    symbol: str
    side: Side
    from_asset: str
    to_asset: str
    price: Decimal  # top-of-book price the cycle was scored at
    fee: Decimal  # taker fee as a fraction, charged on what the leg receives


@dataclass(frozen=True, slots=True)
class LegAmount:
    """A leg at the cycle's maximum size, after depth, precision and minimums."""

    amount_in: Decimal  # spent, in the leg's from_asset
    order_amount: Decimal  # order size in base units, rounded down to the amount step
    limit_price: Decimal  # worst book level the order reaches
    amount_out: Decimal  # received after the fee, in the leg's to_asset


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A scored cycle: legs in order from `start_asset` back to it, profit and size."""

    cycle_id: int
    start_asset: str
    legs: tuple[Leg, ...]
    profit_pct: Decimal  # at top of book, net of every leg's fee
    max_size: Decimal  # in start_asset; 0 when no size meets every leg's minimums
    leg_amounts: tuple[LegAmount, ...]  # empty when max_size is 0
    size_limited_by: str  # e.g. "depth:ETH/BTC", "min_notional:XRP/ETH", "no_depth:XRP/ETH"

    @property
    def end_amount(self) -> Decimal:
        """Return what the last leg receives at max_size, in start_asset."""
        return self.leg_amounts[-1].amount_out if self.leg_amounts else ZERO

    @property
    def profit_at_size_pct(self) -> Decimal:
        """Return the profit % at max_size after depth and rounding (0 when not executable)."""
        if self.max_size <= 0:
            return ZERO
        return (self.end_amount / self.max_size - 1) * 100

    @property
    def is_profitable(self) -> bool:
        """Tell whether the cycle gains at top of book after fees."""
        return self.profit_pct > 0

    def path(self) -> str:
        """Return the cycle as `A -> B -> C -> A`."""
        return " -> ".join([self.start_asset, *(leg.to_asset for leg in self.legs)])
