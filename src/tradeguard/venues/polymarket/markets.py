"""The CLOB's market listing read into instruments and results (signed and data-only venues).

Only YES/NO markets are read: a market of named outcomes (teams, over/under) is left out. A row
no venue would send (a field missing or of the wrong type, a tick outside [0.000001, 0.1], a
negative or absurd minimum size, a slug no symbol can carry) is `BadMarket`, naming the market,
the field, the value and the limit: the venue leaves that market out and says so, never a
traceback.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from tradeguard.model.instrument import SYMBOL_MAX_LEN, Instrument, is_symbol
from tradeguard.model.outcome import Outcome, Resolution, outcome_instrument
from tradeguard.venues.listing_rows import MAX_TICK, MIN_TICK, BadMarket, bounded, cut

log = logging.getLogger(__name__)

QUOTE = "PUSD"
STEP = Decimal("0.01")  # token amounts in hundredths
TAKER_FEE_BOUND = Decimal("0.25")  # the worst taker fee per unit of notional
MAX_MIN_SIZE = Decimal(1_000_000)  # a minimum order beyond this is no real market's
# A condition id goes into the fee's URL (/clob-markets/<id>): a control character there raised
# httpx.InvalidURL out of load_fees, a '/' or '..' asks another path. Real ones are 0x + hex.
_CONDITION_ID = re.compile(r"[A-Za-z0-9_-]{0,200}")


def is_yes_no(market: dict[str, Any]) -> bool:
    """Tell whether the market's two tokens are YES and NO."""
    tokens = market.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
        return False
    outcomes = sorted(str(t.get("outcome", "")).lower() for t in tokens)
    return outcomes == ["no", "yes"]


def market_tokens(venue: str, market: Any) -> list[tuple[Instrument, str]]:
    """Each outcome's instrument and token id of an open YES/NO market (none otherwise)."""
    if not isinstance(market, dict):
        raise BadMarket(f"a market row is {type(market).__name__}, not an object")
    if market.get("closed") or not is_yes_no(market):
        return []
    slug = market.get("market_slug")
    if not isinstance(slug, str) or not is_symbol(f"{slug}:YES/{QUOTE}"):
        raise BadMarket(
            f"market_slug = {cut(slug)}: its symbols must be MARKET:YES/{QUOTE}, at most "
            f"{SYMBOL_MAX_LEN} characters of letters, digits, '.', '_', '-'"
        )
    cid = market.get("condition_id", "")
    if not isinstance(cid, str) or not _CONDITION_ID.fullmatch(cid):
        raise BadMarket(
            f"condition_id = {cut(cid)}: expected at most 200 letters, digits, '_' or '-'"
        )
    if not isinstance(market.get("neg_risk", False), bool):
        raise BadMarket(f"neg_risk = {cut(market['neg_risk'])}: expected true or false")
    tick = bounded(market, "minimum_tick_size", MIN_TICK, MAX_TICK, with_low=True)
    min_size = bounded(market, "minimum_order_size", Decimal(0), MAX_MIN_SIZE, with_low=True)
    out = []
    for token in market["tokens"]:
        if not isinstance(token.get("token_id"), str) or not token["token_id"].strip():
            raise BadMarket(f"tokens[].token_id = {cut(token.get('token_id'))}: expected text")
        outcome = Outcome(token["outcome"].lower())
        inst = outcome_instrument(
            venue, market["market_slug"], outcome, QUOTE, tick, STEP, min_size, TAKER_FEE_BOUND
        )
        out.append((inst, token["token_id"]))
    return out


def listed_tokens(venue: str, market: Any) -> list[tuple[Instrument, str]]:
    """`market_tokens`, a market no venue would send left out with a warning naming it."""
    try:
        return market_tokens(venue, market)
    except BadMarket as exc:
        slug = market.get("market_slug") if isinstance(market, dict) else None
        log.warning("%s: market %s left out of the listing: %s", venue, cut(slug), exc)
        return []


def market_resolution(market: Any) -> Resolution | None:
    """How a closed YES/NO market resolved: the winning token's side, or void when none won;
    None while it is open."""
    if not isinstance(market, dict) or not market.get("closed") or not is_yes_no(market):
        return None
    if not isinstance(market.get("market_slug"), str):
        return None  # a result of no market we could name
    winners = [t["outcome"].lower() for t in market["tokens"] if t.get("winner")]
    return Resolution(winners[0]) if winners else Resolution.VOID
