"""Kalshi's market listing read into instruments and results (signed and data-only venues).

A row no venue would send (not an object, a ticker no symbol can carry, a tick outside
[0.000001, 0.1]) is left out with a warning naming the market, the field, the value and the limit.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import SYMBOL_MAX_LEN, Instrument, is_symbol
from tradeguard.model.money import ONE
from tradeguard.model.outcome import Outcome, Resolution, outcome_instrument
from tradeguard.venues.listing_rows import MAX_TICK, MIN_TICK, BadMarket, bounded, cut

log = logging.getLogger(__name__)

QUOTE = "USD"
TAKER_FEE_BOUND = Decimal("0.07")  # the worst taker fee per unit of notional


def market_instruments(venue: str, market: Any) -> list[Instrument]:
    """The YES and NO instruments of one listed market (whole contracts, its own tick)."""
    if not isinstance(market, dict):
        raise BadMarket(f"a market row is {type(market).__name__}, not an object")
    ticker = market.get("ticker")
    if not isinstance(ticker, str) or not is_symbol(f"{ticker}:YES/{QUOTE}"):
        raise BadMarket(
            f"ticker = {cut(ticker)}: its symbols must be TICKER:YES/{QUOTE}, at most "
            f"{SYMBOL_MAX_LEN} characters of letters, digits, '.', '_', '-'"
        )
    tick = bounded({"tick_size_dollars": "0.01", **market}, "tick_size_dollars", MIN_TICK,
                   MAX_TICK, with_low=True)  # fmt: skip
    return [
        outcome_instrument(venue, ticker, outcome, QUOTE, tick, ONE, ONE, TAKER_FEE_BOUND)
        for outcome in Outcome
    ]


def listed_instruments(venue: str, market: Any) -> list[Instrument]:
    """`market_instruments`, a market no venue would send left out with a warning naming it."""
    try:
        return market_instruments(venue, market)
    except BadMarket as exc:
        ticker = market.get("ticker") if isinstance(market, dict) else None
        log.warning("%s: market %s left out of the listing: %s", venue, cut(ticker), exc)
        return []


def market_resolution(market: Any) -> Resolution | None:
    """How a listed market resolved; None without a result of yes, no or void (none yet, or a
    scalar market's)."""
    if not isinstance(market, dict) or not isinstance(market.get("result"), (str, type(None))):
        return None
    try:
        return Resolution.parse(market.get("result") or "")
    except ValueError:
        return None
