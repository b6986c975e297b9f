"""Executions reported by a venue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.frozen import quick_init
from tradeguard.model.money import ZERO


@quick_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution; `trade_id` is the venue's and makes the fill idempotent."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: LiquiditySide
    ts: int
    # The fee valued in the quote asset when it is paid in a third asset (BNB, a DEX's gas in
    # ETH), at the price known when the fill was booked; None where it follows from the fill.
    fee_quote: Decimal | None = None

    @property
    def base(self) -> str:
        parts = _ASSETS.get(self.symbol)
        return (parts or _assets(self.symbol))[0]

    @property
    def quote(self) -> str:
        parts = _ASSETS.get(self.symbol)
        return (parts or _assets(self.symbol))[1]

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount

    @property
    def fee_in_quote(self) -> Decimal:
        """Fee valued in the quote asset (fees charged in base are valued at the fill price, in a
        third asset at the price the node knew when it booked the fill)."""
        if self.fee_quote is not None:
            return self.fee_quote
        return fee_in_quote(self.symbol, self.price, self.fee, self.fee_asset)

    @property
    def fee_in_third_asset(self) -> bool:
        """Tell whether the fee is paid in neither the base nor the quote asset."""
        return bool(self.fee) and self.fee_asset not in (self.base, self.quote)

    @property
    def base_moved(self) -> Decimal:
        """The base the account gained (BUY) or gave up (SELL): a fee the venue takes in the
        base asset (Binance on a buy) is base the account never holds, so a position moved by
        this figure holds what the account holds."""
        if self.fee == ZERO or self.fee_asset != self.base:
            return self.amount
        return self.amount - self.fee if self.side is Side.BUY else self.amount + self.fee

    @property
    def dedup_key(self) -> tuple[str, str, str]:
        return (self.venue, self.symbol, self.trade_id)


# symbol -> (base, quote): a fill's assets are read several times while it is booked, and a
# node trades a bounded set of symbols
_ASSETS: dict[str, tuple[str, str]] = {}


def _assets(symbol: str) -> tuple[str, str]:
    if len(_ASSETS) >= 65_536:  # outcome-token venues list many markets: stay bounded
        _ASSETS.clear()
    base, slash, rest = symbol.partition("/")
    parts = _ASSETS[symbol] = (base, rest.split(":", 1)[0] if slash else "")
    return parts


def fee_in_quote(symbol: str, price: Decimal, fee: Decimal, fee_asset: str) -> Decimal:
    """Value a fill's fee in its quote asset (a fee charged in base is valued at the fill price)."""
    if fee == ZERO:
        return ZERO
    base, _, rest = symbol.partition("/")
    if fee_asset == rest.split(":", 1)[0]:
        return fee
    if fee_asset == base:
        return fee * price
    return ZERO


@dataclass(frozen=True, slots=True)
class FillTotals:
    """What an order's fills add up to: base filled, its cost in the quote, fees as charged."""

    amount: Decimal
    cost: Decimal  # sum of amount * price
    fee: Decimal  # summed as charged (one order's fills share their fee asset)

    @property
    def avg_price(self) -> Decimal:
        return self.cost / self.amount if self.amount else ZERO


def fill_totals(fills: Iterable[Fill]) -> FillTotals:
    """Add up one order's fills."""
    amount = cost = fee = ZERO
    for f in fills:
        amount += f.amount
        cost += f.amount * f.price
        fee += f.fee
    return FillTotals(amount, cost, fee)
