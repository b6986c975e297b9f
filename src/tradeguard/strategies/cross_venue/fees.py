"""The two venues' taker fees, exact: in Decimal for records, in integers for the scanner.

Kalshi charges `ceil_to_cent(rate * sum(C * P * (1 - P)))` per order (an order that walks several
levels is rounded once); Polymarket charges `shares * r * (p * (1 - p)) ** e` per fill, rounded
half up to the micro-dollar. The scanner works in integers: prices in micro-dollars, sizes in
hundredths of a contract, and per price a fee factor `k18` (the fee of one contract in 1e-18
dollars) computed once per book level, so rescoring never touches Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from tradeguard.model.money import ONE, ZERO
from tradeguard.model.outcome import CENT, polymarket_fee

Dialect = Literal["kalshi", "polymarket"]
MICRO = 1_000_000
E14 = 10**14
E18 = Decimal(10**18)
E18_INT = 10**18


@dataclass(frozen=True, slots=True)
class FeeModel:
    """One venue's taker fee schedule (Kalshi: rate; Polymarket: rate and exponent)."""

    dialect: Dialect
    rate: Decimal
    exponent: Decimal = ONE

    @classmethod
    def default(cls, dialect: Dialect) -> FeeModel:
        """Return the venue's standard taker schedule (Kalshi 0.07; Polymarket 0.02, e = 1)."""
        return cls(dialect, Decimal("0.07") if dialect == "kalshi" else Decimal("0.02"))

    def order_fee(self, fills: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
        """Return the fee of one taker order filled as (price, contracts) pieces."""
        if self.dialect == "kalshi":
            raw = sum((self.rate * qty * p * (ONE - p) for p, qty in fills), ZERO)
            return raw.quantize(CENT, rounding=ROUND_CEILING)
        return sum((polymarket_fee(qty, p, self.rate, self.exponent) for p, qty in fills), ZERO)

    def k18(self, price_micro: int) -> int:
        """Return the fee of one contract at this price in 1e-18 dollars, before rounding."""
        p = Decimal(price_micro) / MICRO
        base = p * (ONE - p)
        factor = base if self.exponent == ONE else (base**self.exponent if base > 0 else ZERO)
        return int(self.rate * factor * E18)


def fee_micro(kalshi: bool, weighted: int, rounded: int) -> int:
    """Return an order's fee in micro-dollars from the scanner's sums.

    `weighted` is sum(hundredths * k18) over the pieces; `rounded` the sum of each piece's fee
    already rounded half up (Polymarket rounds per fill, Kalshi once per order, up to the cent).
    """
    if kalshi:
        cents = -(-weighted // E18_INT)  # hundredths x 1e-18 $ = 1e-20 $; ceil to the cent
        return cents * 10_000
    return rounded


def piece_micro(hundredths: int, k18: int) -> int:
    """Return one Polymarket fill's fee in micro-dollars, rounded half up."""
    return (hundredths * k18 + E14 // 2) // E14 if k18 else 0
