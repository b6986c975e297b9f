"""A signal bot's name on the plain order path: an HTTP order or a strategy's intent.

```python
why = bot_refusal(node, intent)   # (code, reason), or None when it may go down the order path
```

A bot trades as strategy id = its name. Its entries pass its own limits, cooldown, one position
and emergency stop on the bot routes only; on any other path its id may send reduce-only orders
(a target, a close) of what the bot itself holds, and nothing more.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.bots.gate import is_reducing
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import OrderIntent
from tradeguard.storage.bot_rows import BotRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

API = "/api/v1"  # the routes a refusal points to


def bot_refusal(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """(code, reason) refusing an order that would trade as a signal bot past its gate, or None.

    See the module's docstring."""
    row = next((b for b in BotRows(node.db).bots() if b.name == intent.strategy_id), None)
    if row is None:
        return None
    sid = intent.strategy_id
    if intent.reduce_only:
        return not_closing(node, intent)
    route = (
        f"its entries go through POST {API}/safety/validate-trade and {API}/trades/execute "
        f"(its limits, cooldown and one position); {API}/orders takes only reduce_only orders "
        "for a bot"
    )
    if not row.enabled:
        return "BOT_DISABLED", f"order denied: {sid} is a signal bot and is disabled; {route}"
    return "BOT_ORDER_ROUTE", f"order denied: strategy_id {sid!r} is a signal bot: {route}"


def not_closing(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """Refuse a bot's reduce_only order that its own position does not cover.

    The risk engine's reduce-only check reads the account's net position on the symbol, which
    other strategies' holdings make up too: a bot holding nothing could sell them (a short
    opened past its stop and limits), or sell more than it holds (its position flipped). Its
    closes already working (a trigger waits, so it counts only against the position) count."""
    sid, venue, symbol, side = intent.strategy_id, intent.venue, intent.symbol, intent.side
    pos = node.portfolio.positions.get((venue, symbol, sid))
    held = pos.quantity if pos is not None else ZERO
    working = ZERO
    if not intent.type.is_trigger:
        for o in node.orders.open.values():
            if (o.strategy_id, o.venue, o.symbol, o.side) == (sid, venue, symbol, side) and (
                o.reduce_only and not o.type.is_trigger
            ):
                working += o.remaining
    amount = intent.amount
    if is_reducing(held, side) and isinstance(amount, Decimal) and amount <= abs(held) - working:
        return None
    also = (
        f", and closes of {plain(working)} already work (POST {API}/bots/{sid}/close-positions "
        "closes it whole, cancelling its resting closes first)"
        if working
        else ""
    )
    return "BOT_NOT_REDUCING", (
        f"order denied: reduce_only {side.value} {amount} of {symbol} as bot {sid} would open "
        f"or grow its position, not close it: {sid} holds {plain(held)} on {venue}{also}; a "
        "bot's reduce_only order closes the bot's own position only"
    )
