"""Kalshi's market listing read into instruments and results (signed and data-only venues)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ONE, dec
from tradeguard.model.outcome import Outcome, Resolution, outcome_instrument

QUOTE = "USD"
TAKER_FEE_BOUND = Decimal("0.07")  # the worst taker fee per unit of notional


def market_instruments(venue: str, market: dict[str, Any]) -> list[Instrument]:
    """The YES and NO instruments of one listed market (whole contracts, its own tick)."""
    tick = dec(market.get("tick_size_dollars", "0.01"))
    return [
        outcome_instrument(venue, market["ticker"], outcome, QUOTE, tick, ONE, ONE, TAKER_FEE_BOUND)
        for outcome in Outcome
    ]


def market_resolution(market: dict[str, Any]) -> Resolution | None:
    """How a listed market resolved; None without a result of yes, no or void (none yet, or a
    scalar market's)."""
    try:
        return Resolution.parse(market.get("result") or "")
    except ValueError:
        return None
