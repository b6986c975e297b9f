"""Rows of a venue's market listing checked before they become instruments.

A row no venue would send (a field missing or of the wrong type, a number out of its range) is
`BadMarket`, whose message names the field, the value (cut) and the limit; the venue leaves that
market out with a warning rather than failing its whole listing with a traceback.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.money import dec

# The finest tick a market may list (Polymarket's finest is 0.0001, Kalshi's 0.001): a finer
# one, down to 1e-999999999, is "above 0" yet rounding any price to it raises decimal.Overflow
MIN_TICK = Decimal("0.000001")
MAX_TICK = Decimal("0.1")  # the coarsest: Polymarket's ticks are 0.1, 0.01, 0.001, 0.0001


class BadMarket(ValueError):
    """A market row of the listing no venue would send; the message names its field."""


def cut(value: Any) -> str:
    """`value` as a log line may show it: its repr, cut past 60 characters."""
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:60]}... ({len(shown)} characters)"


def bounded(
    market: dict[str, Any], key: str, low: Decimal, high: Decimal, with_low: bool = False
) -> Decimal:
    """`market[key]` as a number in (low, high] ([low, high] `with_low`), or BadMarket."""
    raw = market.get(key)
    try:
        value = dec(raw, key)
    except (TypeError, ValueError):
        value = Decimal("NaN")
    above = value.is_finite() and (value >= low if with_low else value > low)
    if not above or value > high:
        raise BadMarket(
            f"{key} = {cut(raw)}: expected a number in {'[' if with_low else '('}{low}, {high}]"
        )
    return value
