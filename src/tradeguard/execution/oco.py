"""OCO pairs on the one order path: both legs risk-checked, journaled together, sent as one.

```python
tp, sl = await submit_oco(order_manager, take_profit_intent, stop_intent)
```

The legs share `oco_group` (the venue's list client id), so reconciliation and the exit plans
can tell them apart from other orders. A venue without native OCO refuses with OCO_UNSUPPORTED;
the caller then keeps the exit on the engine side.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.events import EventKind
from tradeguard.model.order import Order, OrderIntent

if TYPE_CHECKING:
    from tradeguard.execution.order_manager import OrderManager, SubmitResult

OCO_GROUP_PREFIX = "oco-"
_TAKES = frozenset({OrderType.LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
_STOPS = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT})


def _refused(code: str, reason: str) -> tuple[SubmitResult, SubmitResult]:
    from tradeguard.execution.order_manager import SubmitResult

    r = SubmitResult("denied", None, code, reason)
    return r, r


async def submit_oco(
    om: OrderManager, take_profit: OrderIntent, stop: OrderIntent
) -> tuple[SubmitResult, SubmitResult]:
    """Check, journal and send a take-profit limit and a stop as one OCO; never raises."""
    from tradeguard.execution.order_manager import SubmitResult

    venue = om.venues.get(stop.venue)
    if venue is None or not venue.native_oco:
        return _refused("OCO_UNSUPPORTED", f"venue {stop.venue!r} takes no OCO orders")
    if take_profit.type not in _TAKES or stop.type not in _STOPS:
        return _refused(
            "INVALID_OCO",
            "an OCO pairs a take-profit (limit, take_profit, take_profit_limit) with a stop "
            f"(stop_loss, stop_loss_limit); got {take_profit.type.value} and {stop.type.value}",
        )
    if (stop.venue, stop.symbol) in om.blocked_symbols():
        return _refused(
            "ORDER_STATE_UNKNOWN",
            f"order denied: {stop.symbol} on {stop.venue} has an order in unknown state",
        )
    for intent in (take_profit, stop):
        decision = om.risk.check(intent, om, om.market)
        if not decision.approved:
            return _refused(decision.code, decision.reason)
    now = om.clock.now_ms()
    tp, sl = (Order.from_intent(i, om.ids.next(), now) for i in (take_profit, stop))
    tp.oco_group = sl.oco_group = f"{OCO_GROUP_PREFIX}{sl.client_order_id}"
    with om.storage.transaction():
        for order in (tp, sl):
            order.transition(OrderStatus.SUBMITTED, now)
            om.storage.upsert_order(order)
            om.storage.record_transition(
                order.client_order_id, OrderStatus.NEW.value, OrderStatus.SUBMITTED.value, now,
                f"OCO {sl.oco_group}",
            )  # fmt: skip
    for order in (tp, sl):
        om.orders[order.client_order_id] = om.open[order.client_order_id] = order
        om._publish_order(EventKind.ORDER_SUBMITTED, order)
    started = time.perf_counter()
    om.in_submit.update((tp.client_order_id, sl.client_order_id))
    try:
        reports = await venue.submit_oco(tp, sl)
    except DefinitiveVenueError as exc:
        om.risk.observe_venue_refusal(stop.venue, om.clock.now_ms(), exc.code, str(exc))
        for order in (tp, sl):
            if order.status is OrderStatus.SUBMITTED:
                om._transition(order, OrderStatus.REJECTED, reason=str(exc))
        code = exc.code or "VENUE_REJECTED"
        return SubmitResult("rejected", tp, code, str(exc)), SubmitResult("rejected", sl, code)
    except AmbiguousVenueError as exc:
        om.in_submit.difference_update((tp.client_order_id, sl.client_order_id))
        om.risk.observe_venue_error(stop.venue, om.clock.now_ms(), str(exc))
        for order in (tp, sl):
            await om.resolve(order)
        return SubmitResult("in_flight", tp, "AMBIGUOUS", str(exc)), SubmitResult(
            "in_flight", sl, "AMBIGUOUS", str(exc)
        )
    finally:
        om.in_submit.difference_update((tp.client_order_id, sl.client_order_id))
        om._latency(stop.venue, "submit", started)
    om.risk.observe_venue_ok(stop.venue, om.clock.now_ms())
    for report in reports:
        om.on_order_report(report)
    return SubmitResult("submitted", tp), SubmitResult("submitted", sl)


def oco_sibling(orders: dict[str, Order], order: Order) -> Order | None:
    """Return the other leg of `order`'s OCO, if it is known."""
    if not order.oco_group:
        return None
    for other in orders.values():
        if other.oco_group == order.oco_group and other.client_order_id != order.client_order_id:
            return other
    return None
