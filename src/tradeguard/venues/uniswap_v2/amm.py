"""Constant-product arithmetic of a Uniswap V2 pair, in integers exactly as the contracts do.

```python
out = amount_out(10**18, reserve_in, reserve_out)      # what getAmountsOut answers
need = amount_in(out, reserve_in, reserve_out)          # what getAmountsIn answers
least = min_out(out, slippage_bps=50)                   # amountOutMin for the router
```
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

FEE_NUMERATOR = 997  # 0.3 % fee: 997 of every 1000 units in reach the curve
FEE_DENOMINATOR = 1000
BPS = 10_000


class AmmError(ValueError):
    """An amount or reserve the formula cannot take."""


def amount_out(amount_in_: int, reserve_in: int, reserve_out: int) -> int:
    """Return the output for an exact input (UniswapV2Library.getAmountOut)."""
    if amount_in_ <= 0:
        raise AmmError(f"amount in {amount_in_} must be positive")
    if reserve_in <= 0 or reserve_out <= 0:
        raise AmmError(f"reserves {reserve_in}/{reserve_out} must both be positive")
    with_fee = amount_in_ * FEE_NUMERATOR
    return (with_fee * reserve_out) // (reserve_in * FEE_DENOMINATOR + with_fee)


def amount_in(amount_out_: int, reserve_in: int, reserve_out: int) -> int:
    """Return the input needed for an exact output (UniswapV2Library.getAmountIn)."""
    if amount_out_ <= 0:
        raise AmmError(f"amount out {amount_out_} must be positive")
    if reserve_in <= 0 or amount_out_ >= reserve_out:
        raise AmmError(
            f"amount out {amount_out_} needs reserve out above it, reserves are "
            f"{reserve_in}/{reserve_out}"
        )
    numerator = reserve_in * amount_out_ * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out_) * FEE_NUMERATOR
    return numerator // denominator + 1


def min_out(quoted: int, slippage_bps: int) -> int:
    """Return amountOutMin: the quote less the slippage cap, rounded down."""
    if not 0 <= slippage_bps < BPS:
        raise AmmError(f"slippage {slippage_bps} bps must be in [0, {BPS})")
    return quoted * (BPS - slippage_bps) // BPS


def max_in(quoted: int, slippage_bps: int) -> int:
    """Return amountInMax for an exact-output swap: the quote plus the slippage cap."""
    if not 0 <= slippage_bps < BPS:
        raise AmmError(f"slippage {slippage_bps} bps must be in [0, {BPS})")
    return -((-quoted * (BPS + slippage_bps)) // BPS)


def to_units(amount: Decimal, decimals: int) -> int:
    """Convert a token amount to its integer base units, refusing fractions below one unit."""
    units = amount.scaleb(decimals)
    if units != units.to_integral_value():
        raise AmmError(f"amount {amount} has more than {decimals} decimals")
    return int(units)


def from_units(units: int, decimals: int) -> Decimal:
    """Convert integer base units to a Decimal token amount, exactly: every digit of a uint256
    is kept (Decimal's default 28-digit context would round one past 10^28 units)."""
    return Decimal(units).scaleb(-decimals, _EXACT)


_EXACT = Context(prec=100, Emin=-999_999, Emax=999_999)  # a uint256 has at most 78 digits
UINT256_MAX = 2**256 - 1
# The native coin is no contract: no wallet holds more ETH than exists (about 1.2e8). A larger
# figure is an RPC's garbage, which the balance sync would book as a deposit.
MAX_NATIVE_BALANCE = Decimal("1e18")


def balance(
    units: object, decimals: int, asset: str, native: bool = False, supply: object = None
) -> Decimal:
    """A balance read from the chain in base units, as a token amount, exact to the unit. A
    token's balanceOf is a uint256 (0 to 2^256 - 1 units, whatever its decimals) and, given its
    `supply` (totalSupply() at the same block), at most that; the native coin's is held to
    MAX_NATIVE_BALANCE. A figure no wallet can hold (negative, not a whole number of units,
    past those) raises AmmError."""
    ok = isinstance(units, int) and not isinstance(units, bool)
    amount = from_units(units, decimals) if ok else Decimal(-1)  # type: ignore[arg-type]
    top = MAX_NATIVE_BALANCE if native else from_units(UINT256_MAX, decimals)
    if not Decimal(0) <= amount <= top:
        raise AmmError(
            f"{asset} balance {str(units)[:40]} (base units) is not an amount from 0 to "
            f"{top:f} {asset}; the balances answer is refused"
        )
    if supply is not None and not (
        isinstance(supply, int) and not isinstance(supply, bool) and 0 <= supply <= UINT256_MAX
    ):
        raise AmmError(f"{asset} totalSupply() {str(supply)[:40]} is no uint256; the balances "
                       "answer is refused")  # fmt: skip
    if supply is not None and units > supply:  # type: ignore[operator]
        raise AmmError(
            f"{asset} balance {str(units)[:40]} (base units) is above the token's "
            f"totalSupply() of {supply} at the same block: no wallet holds more than exists; "
            "the balances answer is refused"
        )
    return amount


@dataclass(frozen=True, slots=True)
class Reserves:
    """One pair's reserves as base and quote units, with the block they were read at."""

    base: int
    quote: int
    block: int = 0

    def mid(self, base_decimals: int, quote_decimals: int) -> Decimal:
        """Return the quote per base at the reserves' ratio (no fee, no impact)."""
        if self.base == 0:
            raise AmmError("pool has no base reserve")
        return from_units(self.quote, quote_decimals) / from_units(self.base, base_decimals)
