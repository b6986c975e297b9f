"""A bot trade's record follows its order: a send cut short is settled once the venue answers.

```python
follow_bot_trades(node)              # at build: settle what a stopped node left, then follow
status = settled(order, doc, why)    # the status of a trade left `sending` with `order`
```

A trade is stored `sending` before its order is journaled and sent, and `submitted` or
`in_flight` when the send returned. A send cut short (the node killed, the client gone) or
left without an answer tells nothing of what the venue did; the node's reconciliation asks it
later, at restart or while trading. Each trade in one of those statuses then takes what its
order became: `rejected` (with the venue's reason) when the venue never placed it, so it starts
no cooldown and reads as what it is, `submitted` once the venue holds it (its order status and
fills tell the rest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.bots.telling import set_outcome
from tradeguard.execution.order_manager import SubmitResult
from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.storage.bot_rows import BotRows, BotTradeRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

# a trade stored before its order is journaled and sent, until the venue call returns
SENDING = "sending"
# the statuses whose order may still tell more
OPEN_ENDED = (SENDING, "submitted", "in_flight")
_ROW_FIELDS = ("trade_id", "bot", "symbol", "status", "client_order_id", "created_ts")
_ENDS = frozenset({
    EventKind.ORDER_ACCEPTED, EventKind.ORDER_PARTIALLY_FILLED, EventKind.ORDER_FILLED,
    EventKind.ORDER_CANCELLED, EventKind.ORDER_REJECTED, EventKind.ORDER_EXPIRED,
})  # fmt: skip


def settled(order: Order | None, doc: dict[str, Any], why: str) -> str:
    """The status of a trade left `sending` with `order` (None: never journaled), its code and
    reason set in `doc`; `why` says why nothing was sent."""
    if order is None:
        text = why + "; nothing was sent"
        set_outcome(doc, "NOT_SENT", text, text)
        return "not_sent"
    if order.status is OrderStatus.REJECTED:
        set_outcome(doc, "VENUE_REJECTED", order.reason)  # the venue's words: withheld from bots
        return "rejected"
    set_outcome(doc, "OK", "", "")
    return "submitted"  # the journal holds it: its order status tells the rest


def followed(order: Order | None, status: str) -> str:
    """The status a trade in `status` takes from what its order is now: `rejected` for an order
    the venue never placed (nothing filled), `submitted` for one it holds, else `status`."""
    if order is None or status not in OPEN_ENDED:
        return status
    if order.status is OrderStatus.REJECTED and order.filled == ZERO:
        return "rejected"
    if order.status not in (OrderStatus.NEW, OrderStatus.SUBMITTED):
        return "submitted"
    return status


def outcome(result: SubmitResult) -> tuple[str, str, str]:
    """(status, code, reason) of a trade from its send's result and what its order is now (an
    answer lost, then asked for: what the venue said meanwhile counts)."""
    status, code, reason = result.status, result.code, result.reason
    if result.order is not None:
        status = followed(result.order, status)
        if status == "rejected" and result.status != "rejected":
            code, reason = "VENUE_REJECTED", result.order.reason
    return status, code, reason


def follow_bot_trades(node: TradingNode) -> None:
    """Settle the trades a stopped node left `sending`, then keep every open-ended trade in
    step with its order as the node learns what the venue did (see the module's docstring)."""
    settle_sending(node)
    rows = BotTradeRows(node.storage)

    def on_order(event: Event) -> None:
        if event.kind not in _ENDS or not event.strategy_id:
            return
        cid = event.data.get("client_order_id")
        order = node.orders.orders.get(cid) if isinstance(cid, str) else None
        # a bot's signal (its order names its trade) or a bot strategy's: no read for others
        if order is None or (
            "bot_trade" not in order.signal and order.strategy_id not in node.bot_strategies
        ):
            return
        for t in rows.of_order(order.strategy_id, order.client_order_id, OPEN_ENDED):
            _follow(rows, t, order)

    node.bus.subscribe(on_order, "order.")


def _follow(rows: BotTradeRows, t: dict[str, Any], order: Order) -> None:
    status = followed(order, t["status"])
    if status == t["status"]:
        return
    doc = {k: v for k, v in t.items() if k not in _ROW_FIELDS}
    if status == "rejected":
        set_outcome(doc, "VENUE_REJECTED", order.reason)  # the venue's words: withheld from bots
    elif doc.get("code") in (None, "AMBIGUOUS"):
        set_outcome(doc, "OK", "", "")
    rows.save_trade(t["trade_id"], t["bot"], t["symbol"], status, order.client_order_id, doc,
                    t["created_ts"])  # fmt: skip


def settle_sending(node: TradingNode) -> None:
    """Settle the trades a stopped node left `sending`: it stored them before journaling and
    sending their entry, and died before the venue call returned."""
    rows = BotRows(node.db)
    for t in rows.trades_in(SENDING):
        coid = t["client_order_id"]
        order = node.storage.get_order(coid) if coid else None
        doc = {k: v for k, v in t.items() if k not in _ROW_FIELDS}
        why = "the node stopped before the order was journaled; nothing was sent"
        status = settled(order, doc, why)
        rows.save_trade(t["trade_id"], t["bot"], t["symbol"], status, coid, doc, t["created_ts"])
