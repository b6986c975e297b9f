"""Decimal helpers used at every boundary where numbers enter the model."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
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


def venue_amount(value: object, field: str) -> Decimal:
    """A venue's amount, price or count: finite and >= 0, else ValueError naming the field."""
    try:
        result = dec(value, field)
    except ValueError:
        result = Decimal("NaN")
    if not result.is_finite() or result < ZERO:
        raise ValueError(f"{field}: {value!r} is not a finite amount >= 0")
    return result


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` toward zero to a multiple of `step` (exchange lot-size rounding)."""
    if step <= ZERO:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` to the nearest multiple of `step`, ties to even."""
    if step <= ZERO:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Tell whether `value` is an exact multiple of `step` (a step of 0 allows anything)."""
    if step <= ZERO:
        return True
    return (value % step) == ZERO


def fmt(value: Decimal, places: int = 2) -> str:
    """Format money for people: thousands separators, fixed places, never an exponent."""
    if not value.is_finite():
        return str(value)
    q = Decimal(1).scaleb(-places)
    # Enough digits for any magnitude: the default 28 would fail on a value above 1e26.
    digits = max(28, value.adjusted() + places + 2)
    # `f`: plain digits always; without it a quantized 0.0000001 would print as 1.000E-7.
    return f"{value.quantize(q, rounding=ROUND_HALF_EVEN, context=Context(prec=digits)):,f}"


def plain(value: Decimal) -> str:
    """Return `value` as exact decimal text with no exponent (1E-7 -> 0.0000001, 1.0E+3 ->
    1000): how an amount leaves the process as JSON; `str` would give Python's 1E-7."""
    # `str` is the same text whenever it has no exponent (and for NaN and Infinity), and twice
    # as fast as the format: the order path turns about twenty amounts an order into text.
    text = str(value)
    if "E" in text or "e" in text:  # "e" under a context with capitals=0
        return f"{value:f}"
    return text


def fmt_figure(value: Decimal, significant: int = 4, max_places: int = 12) -> str:
    """Format a figure for people without scientific notation: as `fmt` (two places) from 1
    up, below 1 with `significant` digits (trailing zeros beyond two places dropped), at most
    `max_places` places: 0.00005791, -0.00009771. A value too small for those places reads
    0.00, never -0.00."""
    if not value.is_finite():
        return str(value)
    if value == 0 or abs(value) >= 1:
        return fmt(value, 2)
    text = fmt(value, min(max(2, significant - 1 - value.adjusted()), max_places))
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return "0.00" if whole == "-0" and decimals == "00" else f"{whole}.{decimals}"


def plain_significant(value: Decimal, significant: int) -> str:
    """`value` to `significant` digits in plain decimals, trailing zeros dropped (0.0000534,
    1234570): what `:g` shows, without the exponent it turns to below 1e-4 and at 1e6 and up."""
    if not value.is_finite():
        return str(value)
    if value == 0:
        return "0"
    step = Decimal(1).scaleb(value.adjusted() - significant + 1)
    return f"{value.quantize(step, rounding=ROUND_HALF_EVEN).normalize():f}"


def quote_of(symbol: str) -> str:
    """The quote asset of a pair (`ETH/BTC`: BTC; a perpetual's `BTC/USDT:USDT`: USDT), the
    currency of its trades' P&L and fees; "" for a symbol naming none."""
    return symbol.partition("/")[2].partition(":")[0]
