"""Binary outcome contracts: YES/NO instruments priced in [0, 1], fee models and settlement."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ONE, ZERO, venue_amount

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
HALF = Decimal("0.5")


class Outcome(StrEnum):
    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Outcome:
        return Outcome.NO if self is Outcome.YES else Outcome.YES


class Resolution(StrEnum):
    """How a market settles: YES pays 1, NO pays 1 to NO holders, VOID pays 0.5 to both."""

    YES = "yes"
    NO = "no"
    VOID = "void"

    @classmethod
    def parse(cls, text: str) -> Resolution:
        value = {"50-50": "void", "fifty_fifty": "void", "void": "void"}.get(text.lower(), text)
        try:
            return cls(value.lower())
        except ValueError:
            raise ValueError(f"resolution: {text!r} is not one of yes, no, 50-50 (void)") from None


def payout(resolution: Resolution, outcome: Outcome) -> Decimal:
    """Cash paid per contract of `outcome` when the market resolves as `resolution`."""
    if resolution is Resolution.VOID:
        return HALF
    return ONE if resolution.value == outcome.value else ZERO


def outcome_symbol(market: str, outcome: Outcome, quote: str) -> str:
    """The unified symbol of one outcome, `KXFED-26DEC:YES/USD`."""
    return f"{market}:{outcome.value.upper()}/{quote}"


def parse_outcome_symbol(symbol: str) -> tuple[str, Outcome, str]:
    """Split `MARKET:YES/QUOTE` into market, outcome and quote; ValueError naming the symbol."""
    base, _, quote = symbol.partition("/")
    market, _, side = base.rpartition(":")
    if not market or side.lower() not in ("yes", "no") or not quote:
        raise ValueError(f"symbol {symbol!r} is not an outcome symbol MARKET:YES/QUOTE")
    return market, Outcome(side.lower()), quote


def outcome_instrument(
    venue: str,
    market: str,
    outcome: Outcome,
    quote: str,
    tick: Decimal,
    step: Decimal,
    min_amount: Decimal,
    taker_fee_bound: Decimal,
) -> Instrument:
    """An Instrument for one outcome; `taker_fee_bound` is the worst fee per unit of notional."""
    return Instrument(
        venue=venue,
        symbol=outcome_symbol(market, outcome, quote),
        base=f"{market}:{outcome.value.upper()}",
        quote=quote,
        price_tick=tick,
        amount_step=step,
        min_amount=min_amount,
        maker_fee=ZERO,
        taker_fee=taker_fee_bound,
        kind="outcome",
    )


def kalshi_fee(count: Decimal, price: Decimal, rate: Decimal = Decimal("0.07")) -> Decimal:
    """Kalshi's trading fee: rate * C * P * (1 - P), rounded up to the cent."""
    raw = rate * count * price * (ONE - price)
    return raw.quantize(CENT, rounding=ROUND_CEILING)


def polymarket_fee(shares: Decimal, price: Decimal, rate: Decimal, exponent: Decimal) -> Decimal:
    """Polymarket's taker fee: shares * r * (p * (1 - p)) ** e, in collateral units (6 places)."""
    if rate == 0 or shares == 0:
        return ZERO
    base = price * (ONE - price)
    factor = base**exponent if base > 0 else ZERO
    return (shares * rate * factor).quantize(MICRO, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Settlement:
    """A resolved market turned a position into cash."""

    venue: str
    market: str
    resolution: Resolution
    yes_contracts: Decimal
    no_contracts: Decimal
    cash: Decimal
    quote: str
    ts: int


def split_signed_position(
    signed: Decimal, locked_yes: Decimal, locked_no: Decimal
) -> tuple[Decimal, Decimal]:
    """YES and NO held behind one signed position (YES - NO, Kalshi's `position_fp`) when
    resting sells lock `locked_yes` and `locked_no`: free contracts of one side only (the
    venue nets free pairs), so the free part is the position beyond what the locks explain."""
    free = signed - (locked_yes - locked_no)
    if free >= 0:
        return locked_yes + free, locked_no
    return locked_yes, locked_no - free


def outcome_price(value: object, field: str) -> Decimal:
    """A contract's traded price from a venue: strictly between 0 and 1 (no outcome trades at
    nothing or at its payout), else ValueError naming the field, as a row no venue sends."""
    price = venue_amount(value, field)
    if not ZERO < price < ONE:
        raise ValueError(f"{field}: {value!r} is outside (0, 1), where outcome contracts trade")
    return price


def with_other_outcomes(symbols: set[str]) -> set[str]:
    """`symbols` and the other outcome of each outcome symbol among them: a hand buy of the
    other outcome while the node was down nets a held leg (Kalshi) or lets a merge take it
    (Polymarket), and its fill is caught up only if its symbol is read."""
    out = set(symbols)
    for symbol in symbols:
        try:
            market, outcome, quote = parse_outcome_symbol(symbol)
        except ValueError:
            continue
        other = Outcome.NO if outcome is Outcome.YES else Outcome.YES
        out.add(outcome_symbol(market, other, quote))
    return out
