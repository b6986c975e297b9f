"""Price checks of stop and take-profit orders (the trigger types), for `PriceRule`.

A trigger order rests on the venue and fires later, when nobody checks it again: so it must be a
reduce-only exit, it must not be reached already (that is a market order), and it is valued at
the price it will trade at (its limit price, else its trigger). The price band applies to a
limit price against the trigger, where it will meet the market, not against today's mid: a stop
2 % away is not a fat finger, a stop-limit whose limit is 30 % from its trigger is.
"""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import trigger_crossed, trigger_on_fall
from tradeguard.model.money import ZERO, fmt
from tradeguard.risk.rules.base import Check, Denial

_HUNDRED = Decimal(100)


def check_trigger(c: Check, mid: Decimal, band_frac: Decimal, band_pct: Decimal) -> Denial | None:
    """Check a trigger order's prices and set the price it is valued at (`c.price`)."""
    i = c.intent
    trigger = i.trigger_price
    kind = i.type.value
    if trigger is None or not trigger.is_finite() or trigger <= ZERO:
        return Denial(
            "INVALID_TRIGGER", "trigger_price", trigger, None,
            f"order rejected: {kind} order on {i.symbol} needs a positive trigger_price, got "
            f"{trigger}",
        )  # fmt: skip
    if not i.reduce_only:
        return Denial(
            "TRIGGER_NOT_REDUCE_ONLY", "reduce_only", None, None,
            f"order rejected: a {kind} order fires later without a fresh risk check, so it must "
            "be a reduce-only exit of a position; send it with reduce_only=true",
        )  # fmt: skip
    if trigger_crossed(i.type, i.side, trigger, mid, mid):
        where = "at or below" if trigger_on_fall(i.type, i.side) else "at or above"
        return Denial(
            "TRIGGER_ALREADY_REACHED", "trigger_price", trigger, mid,
            f"order rejected: {kind} {i.side.value} on {i.symbol} would fire at once: the mid "
            f"{mid} is already {where} trigger_price={trigger}; send a market order to exit now",
        )  # fmt: skip
    price = trigger
    if i.type.has_limit:
        limit = i.price
        if limit is None or limit <= ZERO:
            return Denial(
                "INVALID_PRICE", "price", limit, None,
                f"order rejected: {kind} order on {i.symbol} needs a positive limit price, got "
                f"{limit}",
            )  # fmt: skip
        if abs(limit - trigger) > trigger * band_frac:
            dev = abs(limit - trigger) / trigger * _HUNDRED
            return Denial(
                "PRICE_BAND", "price_band_pct", dev, band_pct,
                f"order rejected: limit price {limit} is {fmt(dev)}% from its trigger {trigger}, "
                f"beyond price_band_pct={band_pct} (risk.price_band_pct)",
            )  # fmt: skip
        price = limit
    c.price = price
    inst = c.inst
    violation = inst.violation(i.amount, price, trigger)
    if violation is not None:
        return Denial(
            violation.code, "instrument", None, None,
            f"order rejected: {violation.message} (instrument rules of {i.venue})",
        )  # fmt: skip
    return None
