"""Tradable instruments and the exchange rules every order must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.money import ZERO, is_multiple, quantize_down, quantize_nearest

# A symbol as venues spell it: spot `BTC/USDT` (DEX tokens may be mixed case: `wstETH/WETH`,
# `USDC.e/WETH`, but each side holds a capital or a digit: `btc/usdt` is a typo), a settled
# contract `BTC/USDT:USDT`, or an outcome contract `MARKET:YES/USD`; no spaces, one slash, no
# control characters. One rule for config, command line and API.
_SIDE = r"[A-Za-z0-9._-]*[A-Z0-9][A-Za-z0-9._-]*"
SYMBOL_PATTERN = rf"^({_SIDE}/{_SIDE}(:[A-Z0-9]+)?|[A-Za-z0-9._-]+:(YES|NO)/{_SIDE})$"
SYMBOL_MAX_LEN = 200  # outcome markets are named by slugs, which run long (Polymarket: 150+)
SYMBOL_RULE = (
    f"BASE/QUOTE as the venue spells it (e.g. BTC/USDT, wstETH/WETH) or MARKET:YES/QUOTE, "
    f"at most {SYMBOL_MAX_LEN} characters of letters, digits, '.', '_', '-'"
)
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def is_symbol(text: object) -> bool:
    """Return True if `text` is a symbol as venues spell it, within the length limit."""
    return (
        isinstance(text, str)
        and len(text) <= SYMBOL_MAX_LEN
        and _SYMBOL_RE.fullmatch(text) is not None
    )


@dataclass(frozen=True, slots=True)
class InstrumentViolation:
    """Why an order breaks an instrument rule; `code` mirrors exchange reject codes."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """A market on a venue with its precision, limits and fees (fees as fractions, 0.001 = 0.1%)."""

    venue: str
    symbol: str
    base: str
    quote: str
    price_tick: Decimal
    amount_step: Decimal
    min_amount: Decimal = ZERO
    min_notional: Decimal = ZERO
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    max_amount: Decimal = ZERO  # 0 means no venue maximum
    max_notional: Decimal = ZERO  # per order, in the quote asset (a DEX's per-tx cap); 0 = none
    kind: str = "spot"  # "outcome": a binary contract priced strictly inside (0, 1)

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.symbol}"

    def round_price(self, price: Decimal) -> Decimal:
        return quantize_nearest(price, self.price_tick)

    def round_amount(self, amount: Decimal) -> Decimal:
        return quantize_down(amount, self.amount_step)

    def violation(
        self, amount: Decimal, price: Decimal | None, trigger: Decimal | None = None
    ) -> InstrumentViolation | None:
        """Check amount, price (None for market orders) and a stop's trigger price against the
        rules; None if fine. An off-tick trigger is refused, not left to a client library that
        would round it to another price than the one journaled."""
        if trigger is not None and (
            not trigger.is_finite() or trigger <= 0 or not is_multiple(trigger, self.price_tick)
        ):
            return InstrumentViolation(
                "PRICE_FILTER",
                f"trigger_price {trigger} is not a positive multiple of the tick "
                f"{self.price_tick} for {self.symbol}",
            )
        if amount <= 0:
            return InstrumentViolation("INVALID_AMOUNT", f"amount {amount} must be positive")
        if not is_multiple(amount, self.amount_step):
            return InstrumentViolation(
                "LOT_SIZE",
                f"amount {amount} is not a multiple of the step {self.amount_step} "
                f"for {self.symbol}",
            )
        if amount < self.min_amount:
            return InstrumentViolation(
                "MIN_AMOUNT",
                f"amount {amount} is below the minimum {self.min_amount} for {self.symbol}",
            )
        if self.max_amount > 0 and amount > self.max_amount:
            return InstrumentViolation(
                "MAX_AMOUNT",
                f"amount {amount} is above the maximum {self.max_amount} for {self.symbol}",
            )
        if price is not None:
            if price <= 0:
                return InstrumentViolation("INVALID_PRICE", f"price {price} must be positive")
            if self.kind == "outcome" and price >= 1:
                return InstrumentViolation(
                    "PRICE_FILTER",
                    f"price {price} must be below 1 for the outcome {self.symbol}",
                )
            if not is_multiple(price, self.price_tick):
                return InstrumentViolation(
                    "PRICE_FILTER",
                    f"price {price} is not a multiple of the tick {self.price_tick} "
                    f"for {self.symbol}",
                )
            notional = amount * price
            if notional < self.min_notional:
                return InstrumentViolation(
                    "MIN_NOTIONAL",
                    f"notional {notional} {self.quote} is below the minimum "
                    f"{self.min_notional} for {self.symbol}",
                )
        return None
