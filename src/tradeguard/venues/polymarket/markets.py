"""The CLOB's market listing read into instruments and results (signed and data-only venues).

Only YES/NO markets are read: a market of named outcomes (teams, over/under) is left out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import Instrument
from tradeguard.model.money import dec
from tradeguard.model.outcome import Outcome, Resolution, outcome_instrument

QUOTE = "PUSD"
STEP = Decimal("0.01")  # token amounts in hundredths
TAKER_FEE_BOUND = Decimal("0.25")  # the worst taker fee per unit of notional


def is_yes_no(market: dict[str, Any]) -> bool:
    """Tell whether the market's two tokens are YES and NO."""
    outcomes = sorted(str(t.get("outcome", "")).lower() for t in market.get("tokens") or ())
    return outcomes == ["no", "yes"]


def market_tokens(venue: str, market: dict[str, Any]) -> list[tuple[Instrument, str]]:
    """Each outcome's instrument and token id of an open YES/NO market (none otherwise)."""
    if market.get("closed") or not is_yes_no(market):
        return []
    tick, min_size = dec(market["minimum_tick_size"]), dec(market["minimum_order_size"])
    out = []
    for token in market["tokens"]:
        outcome = Outcome(token["outcome"].lower())
        inst = outcome_instrument(
            venue, market["market_slug"], outcome, QUOTE, tick, STEP, min_size, TAKER_FEE_BOUND
        )
        out.append((inst, token["token_id"]))
    return out


def market_resolution(market: dict[str, Any]) -> Resolution | None:
    """How a closed YES/NO market resolved: the winning token's side, or void when none won;
    None while it is open."""
    if not market.get("closed") or not is_yes_no(market):
        return None
    winners = [t["outcome"].lower() for t in market["tokens"] if t.get("winner")]
    return Resolution(winners[0]) if winners else Resolution.VOID
