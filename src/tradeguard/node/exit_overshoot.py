"""Exits that carried a strategy's position past flat, taken up again at start.

```python
await resume_overshoots(node, siblings)   # in `before_trading`, after reconciliation
```

When both of a strategy's exits fill (`node/exit_siblings.py`), the excess is closed at market
as the second fill is seen (`node.exit_overshoot = "close"`) or reported ("report"). A node
killed after that fill was committed and before the close was journaled came back past flat with
nothing on its way and nothing said: the fill's commit and the close are two steps.

At start each strategy position is walked back through its fills, newest first, to where it was
last not past flat; what reduce-only fills carried it past flat there (not a venue OCO leg's nor
a bot's venue exit's: the running node leaves those alone too) and no close covers (a close that
filled shows in the position, one still working is counted) is closed at market, or reported,
rounded down to the lot step: a buy-back's fee taken in the coin leaves a part-step no order can
close (a start between its part fills sent that unrounded, and the venue refused it).
A report is remembered (`node.exit_overshoot_reported`, by exit order id), so each
overshoot is reported once, not at every start.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.model.order import Order

if TYPE_CHECKING:
    from tradeguard.node.exit_siblings import ExitSiblings, Key
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

REPORTED_KEY = "node.exit_overshoot_reported"  # {exit order id: the excess reported}
PAGE = 200


def left_to_venue(order: Order) -> bool:
    """Whether `order` is a venue OCO leg or a bot's venue exit: the venue and the bots' exit
    manager hold those, neither the running check nor the start-up one."""
    return bool(order.oco_group or order.signal.get("native"))


def overshoot(order: Order, qty: Decimal, amount: Decimal) -> Decimal:
    """How far a reduce-only fill of `amount` of `order` carried the strategy's position past
    flat (0: not at all), `qty` being the position after it. Past flat, it sold what the
    strategy did not hold: coins of another strategy or held before, which the strategy owes."""
    if not order.reduce_only or amount <= 0:
        return ZERO
    sign = 1 if order.side is Side.SELL else -1
    return min(max(-qty * sign, ZERO), amount)


def unclosed(node: TradingNode, key: Key) -> tuple[Decimal, list[str]]:
    """What of `key`'s position past flat its exits' fills put there and no close covers, and
    those exits' ids (oldest first)."""
    pos = node.portfolio.positions.get(key)
    qty = ZERO if pos is None else pos.quantity
    if qty == 0:
        return ZERO, []
    venue, symbol, strategy = key
    after, excess, offset = qty, ZERO, 0
    exits: list[str] = []
    while True:
        page = node.storage.load_fills(
            venue=venue, symbol=symbol, strategy_id=strategy, newest_first=True, limit=PAGE,
            offset=offset,
        )  # fmt: skip
        for fill in page:
            cid, over = fill.client_order_id, ZERO
            if (after < 0) if fill.side is Side.SELL else (after > 0):  # past flat: an exit's?
                order = node.orders.orders.get(cid) or node.storage.get_order(cid)
                if order is not None and not left_to_venue(order):
                    over = overshoot(order, after, fill.amount)
            if over > 0:
                excess += over
                exits.insert(0, cid)
            after -= fill.amount if fill.side is Side.BUY else -fill.amount
            if (after >= 0) if qty < 0 else (after <= 0):
                return less_closing(node, key, min(excess, abs(qty))), exits
        if len(page) < PAGE:
            return less_closing(node, key, min(excess, abs(qty))), exits
        offset += PAGE


def less_closing(node: TradingNode, key: Key, excess: Decimal) -> Decimal:
    working = sum(
        (o.remaining for o in node.orders.open.values()
         if (o.venue, o.symbol, o.strategy_id) == key and o.signal.get("exit") == "overshoot"),
        ZERO,
    )  # fmt: skip
    return max(excess - working, ZERO)


def mark_reported(node: TradingNode, exits: list[str], excess: Decimal) -> None:
    """Remember that the overshoot of `exits` was reported: a restart does not report it again."""
    reported = dict(node.storage.kv_get(REPORTED_KEY) or {})
    reported.update({cid: str(excess) for cid in exits})
    node.storage.kv_set(REPORTED_KEY, reported)


async def resume_overshoots(node: TradingNode, siblings: ExitSiblings) -> None:
    """Close (or report, once) what exits left past flat with no close on its way."""
    reported = node.storage.kv_get(REPORTED_KEY) or {}
    for key in sorted(node.portfolio.positions):
        excess, exits = unclosed(node, key)
        inst = node.market.instrument(key[0], key[1])
        if inst is not None and excess > 0:  # a buy-back's fee in the coin leaves a part-step
            excess = quantize_down(excess, inst.amount_step)
        if excess <= 0 or siblings.closing & set(exits):
            continue  # none, or a close this start's fills set off is on its way
        if node.config.node.exit_overshoot == "report" and all(c in reported for c in exits):
            continue
        log.warning(
            "%s: exits %s on %s %s left the position %s past flat with no close on its way "
            "(the node stopped before it)", key[2], ", ".join(exits), key[0], key[1], excess,
        )  # fmt: skip
        await siblings.report_overshoot(key, exits, excess)
