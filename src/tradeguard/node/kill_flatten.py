"""The kill switch's flatten: close what the positions hold beyond the closes already working.

```python
await flatten_positions(node.portfolio, node.orders, report)   # after cancel_all
```

A close that was on its way when the switch was pulled (a bot's close, an exit, a strategy's
sale) may still fill: its cancel can fail or come too late (a market order is matched at once).
Selling the whole position again would sell it twice, so the flatten sends only what such
orders leave, and the report names them (`closing`).

Each close goes under the id of the position's holder, the empty id of a position of no strategy
(outcome contracts a trade the node did not make bought) included: a fill is booked to its
order's strategy, so a close under any other id would leave the position open and book its
opposite to that id, which a second flatten would then close by buying it back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from decimal import Decimal
from itertools import chain
from typing import Protocol

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.money import ZERO, plain, quantize_down
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.position import Position
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.engine import KILL_FLATTEN_TAG
from tradeguard.risk.kill import KillReport


class Submitted(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class Orders(Protocol):
    """The order manager's open and unresolved orders, and its submit."""

    @property
    def open(self) -> Mapping[str, Order]: ...

    @property
    def unknown(self) -> Mapping[str, Order]: ...

    def submit(self, intent: OrderIntent) -> Awaitable[Submitted]: ...


def closing_side(pos: Position) -> Side:
    """The side that closes `pos`."""
    return Side.SELL if pos.quantity > 0 else Side.BUY


def working_closes(pos: Position, orders: Iterable[Order]) -> list[Order]:
    """The orders of the position's strategy still able to fill on its side that closes it."""
    side = closing_side(pos)
    return [
        o for o in orders
        if o.is_open and o.venue == pos.venue and o.symbol == pos.symbol
        and o.strategy_id == pos.strategy_id and o.side is side
    ]  # fmt: skip


def can_sell(working: Iterable[Order]) -> Decimal:
    """The most `working` can still fill: the two legs of an OCO sell the same coins (one
    filling cancels the other), so a group counts once, at its larger leg."""
    alone, groups = ZERO, dict[str, Decimal]()
    for o in working:
        if o.oco_group:
            groups[o.oco_group] = max(groups.get(o.oco_group, ZERO), o.remaining)
        else:
            alone += o.remaining
    return alone + sum(groups.values(), ZERO)


async def flatten_positions(portfolio: Portfolio, orders: Orders, report: KillReport) -> None:
    """Send one reduce-only market order per open position for what closes still working
    (after the kill's cancels) will not sell; record closed, left and failed in `report`."""
    seen: dict[str, Order] = {}
    for o in chain(orders.open.values(), orders.unknown.values()):
        seen[o.client_order_id] = o
    for pos in portfolio.open_positions():
        name = f"{pos.venue}:{pos.symbol}"
        working = working_closes(pos, seen.values())
        in_flight = can_sell(working)
        amount = abs(portfolio.sellable(pos))  # what an order can close
        if working:
            report.closing.append({
                "position": name, "strategy": pos.strategy_id,
                "working": [o.client_order_id for o in working], "amount": plain(in_flight),
            })  # fmt: skip
            step = portfolio.lot_steps.get((pos.venue, pos.symbol), ZERO)
            left = max(amount - in_flight, ZERO)
            amount = quantize_down(left, step) if step else left
        if amount <= 0:
            continue
        intent = OrderIntent(
            strategy_id=pos.strategy_id, venue=pos.venue, symbol=pos.symbol,
            side=closing_side(pos), amount=amount, type=OrderType.MARKET,
            reduce_only=True, tag=KILL_FLATTEN_TAG,
            signal={"reason": "kill switch flatten"},
        )  # fmt: skip
        result = await orders.submit(intent)
        if result.ok:
            report.closed_positions.append(name)
        else:
            report.failed.append((name, result.reason))


__all__ = ["can_sell", "closing_side", "flatten_positions", "working_closes"]
