"""OCO pairs on the one order path: both legs risk-checked, journaled together, sent as one.

```python
tp, sl = await submit_oco(order_manager, take_profit_intent, stop_intent)
```

The legs share `oco_group` (the venue's list client id), so reconciliation and the exit plans
can tell them apart from other orders. A venue without native OCO refuses with OCO_UNSUPPORTED;
the caller then keeps the exit on the engine side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import OrderType
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.sealed import sealed_intent

if TYPE_CHECKING:
    from tradeguard.execution.order_manager import OrderManager, SubmitResult

OCO_GROUP_PREFIX = "oco-"
_TAKES = frozenset({OrderType.LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
_STOPS = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT})


def withdraw_approvals(decisions: Iterable[Any]) -> None:
    """Take back what the risk engine counted for approvals whose orders are not sent (their
    journal commit failed, or another leg of the same request was refused)."""
    for decision in decisions:
        withdraw = getattr(decision, "withdraw", None)
        if withdraw is not None:
            withdraw()


def _refused(code: str, reason: str) -> tuple[SubmitResult, SubmitResult]:
    from tradeguard.execution.order_manager import SubmitResult

    r = SubmitResult("denied", None, code, reason)
    return r, r


async def submit_oco(
    om: OrderManager, take_profit: OrderIntent, stop: OrderIntent
) -> tuple[SubmitResult, SubmitResult]:
    """Check, journal and send a take-profit limit and a stop as one OCO; never raises."""
    take_profit, stop = sealed_intent(take_profit), sealed_intent(stop)  # checked as sent
    venue = om.venues.get(stop.venue)
    if venue is None or not venue.native_oco:
        return _refused("OCO_UNSUPPORTED", f"venue {stop.venue!r} takes no OCO orders")
    if take_profit.type not in _TAKES or stop.type not in _STOPS:
        return _refused(
            "INVALID_OCO",
            "an OCO pairs a take-profit (limit, take_profit, take_profit_limit) with a stop "
            f"(stop_loss, stop_loss_limit); got {take_profit.type.value} and {stop.type.value}",
        )
    now = om.clock.now_ms()
    for intent in (take_profit, stop):
        blocked = om.deny_if_blocked(intent, now)
        if blocked is not None:
            return blocked, blocked
    decisions: list[Any] = []
    for intent in (take_profit, stop):
        decision = om.risk.check(intent, om, om.market)
        if not decision.approved:
            withdraw_approvals(decisions)  # the leg approved before it goes nowhere either
            return _refused(decision.code, decision.reason)
        decisions.append(decision)
    tp, sl = (Order.from_intent(i, om.ids.next(), now) for i in (take_profit, stop))
    for order, decision in zip((tp, sl), decisions, strict=True):
        order.price_bound = getattr(decision, "price_bound", None)
    tp.oco_group = sl.oco_group = f"{OCO_GROUP_PREFIX}{sl.client_order_id}"
    try:
        om.journal_submitted((tp, sl), now, f"OCO {sl.oco_group}")
    except BaseException:  # not journaled, so never sent: the approvals count nothing
        withdraw_approvals(decisions)
        raise
    first, second = await om.send((tp, sl), venue.submit_oco, tp, sl)
    return first, second
