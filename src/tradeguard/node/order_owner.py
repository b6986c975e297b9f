"""Whose id an order sent from outside the node trades under: `POST /api/v1/orders` and
`POST /api/v1/risk/validate`.

```python
why = owner_refusal(node, intent)   # (code, reason), or None when it may go down the order path
```

Every order booked to a strategy id counts as that strategy's: its positions, its exits and
stops, a multi-leg strategy's cycle holdings, its P&L and a bot's one position. So an id the
node trades under is not free for an outside caller to borrow:

- a strategy of this node (one in `strategies` of the config, running, paused or disabled, a
  `bot = true` one too, and any strategy with recorded arbitrage cycles) takes reduce_only
  orders only: a close by hand of what it holds (the risk engine's reduce-only rule holds the
  order to that strategy's own position); an entry is denied with `STRATEGY_ORDER_ROUTE`;
- a signal bot's name is held to the bot's order route (`bot_refusal`);
- any other id (`external`, the default; `manual`; a desk's own label) is the caller's own.

A strategy of the node is held to the same rule for the id of another one
(`foreign_strategy_refusal`): each strategy is handed its own view of the node's context
(`node.context.OwnContext`), whose `emit()` denies its entry under another strategy's id
`STRATEGY_ORDER_ROUTE` and which lends no execution gateway under such an id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeguard.model.order import OrderIntent
from tradeguard.node.bot_orders import bot_refusal

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

STRATEGY_ORDER_ROUTE = "STRATEGY_ORDER_ROUTE"


def node_strategy_ids(node: TradingNode) -> frozenset[str]:
    """The ids the node's own strategies trade under: configured, or with recorded cycles."""
    return frozenset(s.id for s in node.config.strategies).union(node.arb_cycles)


def strategy_refusal(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """(code, reason) denying an entry sent from outside under a strategy's id, or None."""
    sid = intent.strategy_id
    if intent.reduce_only or sid not in node_strategy_ids(node):
        return None
    return STRATEGY_ORDER_ROUTE, (
        f"order denied: strategy_id {sid!r} is a strategy of this node, and every order booked "
        "to it counts in its positions, exits and P&L; under its id the API takes only "
        "reduce_only=true orders closing what it holds; send an entry under a strategy_id of "
        "your own (the default 'external', or a label such as 'manual')"
    )


def foreign_strategy_refusal(
    node: TradingNode, owner: str, intent: OrderIntent
) -> tuple[str, str] | None:
    """(code, reason) denying strategy `owner`'s entry under another strategy's id, or None."""
    sid = intent.strategy_id
    if sid == owner or intent.reduce_only or sid not in node_strategy_ids(node):
        return None
    return STRATEGY_ORDER_ROUTE, (
        f"order denied: strategy {owner!r} emitted an order under strategy_id {sid!r}, another "
        "strategy of this node, whose positions, exits and P&L it would count in; under "
        "another strategy's id only reduce_only=true orders closing what it holds pass; "
        f"send entries under the strategy's own id ({owner!r})"
    )


def owner_refusal(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """(code, reason) refusing an outside order under an id the node trades under, or None.

    See the module's docstring."""
    return bot_refusal(node, intent) or strategy_refusal(node, intent)


__all__ = [
    "STRATEGY_ORDER_ROUTE",
    "foreign_strategy_refusal",
    "node_strategy_ids",
    "owner_refusal",
    "strategy_refusal",
]
