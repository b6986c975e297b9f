"""Decimal helpers used at every boundary where numbers enter the model."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)
# Assets counted as one USD each: valuation, limits named in USD, the stable reserve. PUSD is
# the quote Polymarket's outcome markets settle in (venues/polymarket).
STABLECOINS = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI", "FDUSD", "TUSD", "USDP", "PUSD"})


def dec(value: object, field: str = "value") -> Decimal:
    """Convert a venue or file value to Decimal without passing through binary float error."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, got bool {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() gives the shortest string that round-trips, e.g. 0.1 -> "0.1".
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{field}: {value!r} is not a number") from None
        return result
    raise ValueError(f"{field}: expected a number, got {type(value).__name__} {value!r}")


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` toward zero to a multiple of `step` (exchange lot-size rounding)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` to the nearest multiple of `step`, ties to even."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Tell whether `value` is an exact multiple of `step` (a step of 0 allows anything)."""
    if step <= 0:
        return True
    return (value % step) == 0


def fmt(value: Decimal, places: int = 2) -> str:
    """Format money for people: thousands separators, fixed places."""
    if not value.is_finite():
        return str(value)
    q = Decimal(1).scaleb(-places)
    # Enough digits for any magnitude: the default 28 would fail on a value above 1e26.
    digits = max(28, value.adjusted() + places + 2)
    return f"{value.quantize(q, rounding=ROUND_HALF_EVEN, context=Context(prec=digits)):,}"
