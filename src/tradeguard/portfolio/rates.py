"""The rates `Portfolio.price_of` reads along a leg of marked symbols."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.market import Fresh

Leg = tuple[tuple[str, bool], ...]  # (marked symbol, inverted), tried in order
_ONE = Decimal(1)


def first_rate(marks: dict[str, Decimal], leg: Leg, fresh: Fresh = None) -> Decimal | None:
    """The first non-zero rate of `leg` in `marks` (every venue's: `fresh` is not read)."""
    for symbol, inverted in leg:
        px = marks[symbol]
        if px:
            return _ONE / px if inverted else px
    return None


def first_own_rate(own: dict[str, Decimal], leg: Leg, fresh: Fresh = None) -> Decimal | None:
    """The first non-zero rate of `leg` in one venue's `own` marks that `fresh` accepts."""
    for symbol, inverted in leg:
        px = own.get(symbol)
        if px and (fresh is None or fresh(symbol)):
            return _ONE / px if inverted else px
    return None
