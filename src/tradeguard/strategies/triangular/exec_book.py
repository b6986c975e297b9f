"""Pure price and book arithmetic of cycle execution: limits, amounts, minimums, depth walks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.strategies.triangular.opportunity import Opportunity

HUNDRED = Decimal(100)
Levels = list[tuple[Decimal, Decimal]]


def order_amount(
    fees_charged_in: str, amount_in: Decimal, limit: Decimal, buy: bool, fee: Decimal, step: Decimal
) -> Decimal:
    """Return the base amount an order spending `amount_in` of its input asset asks for."""
    if not buy:
        return quantize_down(amount_in, step)
    if limit <= 0:
        return ZERO
    per_unit = limit * (ONE + fee) if fees_charged_in == "quote" else limit
    return quantize_down(amount_in / per_unit, step)


def gross_and_fees(opp: Opportunity) -> tuple[Decimal, Decimal]:
    """Split the scanned profit into gross (before fees) and the fees' share, in %."""
    gross = ONE
    for leg in opp.legs:
        if leg.price <= 0:
            return ZERO, ZERO
        gross *= ONE / leg.price if leg.side is Side.BUY else leg.price
    gross_pct = (gross - ONE) * HUNDRED
    return gross_pct, gross_pct - opp.profit_pct


def worst_needed(levels: Levels, amount_in: Decimal, buy: bool, fee: Decimal) -> Decimal:
    """Return the worst level price trading `amount_in` reaches (the last level if too thin)."""
    left = amount_in / (ONE + fee) if buy else amount_in
    worst = levels[0][0]
    for price, size in levels:
        worst = price
        take = price * size if buy else size
        if take >= left:
            break
        left -= take
    return worst


def round_price(price: Decimal, tick: Decimal, buy: bool, bound: Decimal) -> Decimal:
    """Round a limit to the tick, away from the book unless that crosses the slippage bound."""
    if tick <= 0:
        return price
    up = (price / tick).to_integral_value(ROUND_CEILING) * tick
    down = (price / tick).to_integral_value(ROUND_FLOOR) * tick
    if buy:
        return up if up <= bound else down
    return down if down >= bound else up


def below_minimum(qty: Decimal, price: Decimal, min_amount: Decimal, min_notional: Decimal) -> bool:
    return qty <= 0 or qty < min_amount or qty * price < min_notional


def price_of(rate: Decimal, buy: bool) -> Decimal:
    """Return the limit price giving a hop `rate` (to-asset per from-asset, before fees)."""
    return ONE / rate if buy else rate


def product(values: list[Decimal]) -> Decimal:
    out = ONE
    for v in values:
        out *= v
    return out


def affordable(levels: Levels, budget: Decimal) -> Decimal:
    """Return the base amount `budget` of quote buys down the asks (capped by their depth)."""
    base = ZERO
    for price, size in levels:
        cost = price * size
        if cost >= budget:
            return base + budget / price
        base += size
        budget -= cost
    return base


def walk_levels(levels: Levels, qty: Decimal) -> tuple[Decimal, Decimal]:
    """Return (base filled, quote value) of trading `qty` through the levels."""
    filled = value = ZERO
    for price, size in levels:
        if filled >= qty:
            break
        take = min(size, qty - filled)
        filled += take
        value += take * price
    return filled, value


def fees_in_start(
    executions: Iterable[Any],
    cost_per_unit: Mapping[str, Decimal],
    usd_price: Callable[[str], Decimal | None],
    start: str,
) -> tuple[Decimal, Decimal]:
    """Return a cycle's fees in the start asset: all of them, and those charged in an asset the
    order neither spent nor received (BNB on a Binance account paying fees in it), which its
    spent and received amounts do not hold. A fee asset the cycle reached counts at its cost,
    another at its USD price over the start asset's (none known: zero)."""
    total = off_chain = ZERO
    start_usd = usd_price(start)
    for ex in executions:
        if not ex.fee:
            continue
        rate = cost_per_unit.get(ex.fee_asset)
        if rate is None:
            usd = usd_price(ex.fee_asset)
            rate = usd / start_usd if usd and start_usd else ZERO
        total += ex.fee * rate
        if ex.fee_asset not in (ex.from_asset, ex.to_asset):
            off_chain += ex.fee * rate
    return total, off_chain
