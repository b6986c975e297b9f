"""Size a pair so its first leg can always be sold back within `max_unwind_loss_usd`.

```python
n, why = unwind_size(gateway, fee_model, first_plan, n, cap)   # why: "" or the refusal
```

The planned unwind of `m` contracts buys them at the first leg's limit (its worst price) with
its fee, and sells them straight back into the same venue's bids as the book shows them now, best
first, with the sale's fee; contracts beyond the bids' depth are counted as sold at 0. Its loss
is monotone in `m`, so the largest whole number of contracts whose loss fits the cap is found by
bisection. A venue that shows no book for the leg (or no bids) has nothing to sell back into:
the whole stake and its fee are the planned loss.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import is_dust
from tradeguard.strategies.cross_venue.scanner import LegPlan
from tradeguard.strategies.gateway import ExecutionGateway, Levels

PAIR_UNWIND = "PAIR_UNWIND"


def planned_unwind_loss(
    fees: FeeModel, plan: LegPlan, bids: Levels | None, contracts: Decimal
) -> Decimal:
    """What buying `contracts` at the plan's limit and selling them back into `bids` loses."""
    bought = contracts * plan.limit_price + fees.order_fee([(plan.limit_price, contracts)])
    fills: list[tuple[Decimal, Decimal]] = []
    left = contracts
    for price, size in bids or ():  # no book: nothing buys them back, all sold at 0
        if left <= 0:
            break
        take = min(left, size)
        if take > 0 and price > 0:
            fills.append((price, take))
            left -= take
    sold = sum((p * q for p, q in fills), ZERO) - (fees.order_fee(fills) if fills else ZERO)
    return bought - sold


def unwind_size(
    gateway: ExecutionGateway, fees: FeeModel, plan: LegPlan, n: Decimal, cap: Decimal
) -> tuple[Decimal, str]:
    """Return the contracts (at most `n`) whose planned unwind of the first leg fits `cap`, and
    "" or, when no size the venue takes fits, the refusal naming the cap and the loss."""
    bids = gateway.levels(plan.symbol, Side.SELL)
    full = planned_unwind_loss(fees, plan, bids, n)
    if full <= cap:
        return n, ""
    lo, hi = 0, int(n.to_integral_value(rounding=ROUND_FLOOR))
    while lo < hi:  # the largest m with loss(m) <= cap; loss(0) = 0 fits
        mid = (lo + hi + 1) // 2
        if planned_unwind_loss(fees, plan, bids, Decimal(mid)) <= cap:
            lo = mid
        else:
            hi = mid - 1
    size = Decimal(lo)
    if size > 0 and not is_dust(gateway.instrument(plan.symbol), size):
        return size, ""
    one = planned_unwind_loss(fees, plan, bids, Decimal(1))
    # with no bids the loss is the stake itself, not a spread: say which
    what = (
        "both fees and the spread at the book"
        if bids
        else "the stake and its fee: no bids to sell back into"
    )
    return ZERO, (
        f"pair rejected ({PAIR_UNWIND}): no size of its first leg {plan.symbol} on {plan.venue} "
        f"can be sold back within max_unwind_loss_usd={cap}: {n} contracts would lose "
        f"{full.quantize(Decimal('0.01'))} USD ({what}), one "
        f"{one.quantize(Decimal('0.01'))} USD; no leg was sent"
    )
