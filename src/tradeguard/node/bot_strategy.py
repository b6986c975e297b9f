"""A strategy that trades as a signal bot (`bot = true`): its orders pass the bot's gate.

```python
result = await submit_as_bot(node, intent)   # the bot's checks, then risk -> journal -> venue
```

The strategy's id is the bot's name, so its positions, working orders and closed trades are the
bot's own: one position per symbol, `max_order_usd`, `max_position_usd`, the cooldown, the loss
limits, the losing streak, the symbols and the emergency stop hold for its intents as they do for
the bot's HTTP signals. Each order it sends is recorded as a bot trade with the intent's signal
(`GET /api/v1/trades/recent/{bot}`); a denied intent is an audited risk denial, as any strategy's.
Scores, sizing rules and confirmation ids are for HTTP signals: the strategy sizes its own orders.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.bots.gate import TradeAsk, check_trade, is_reducing
from tradeguard.bots.spec import BotSpec
from tradeguard.bots.telling import set_outcome
from tradeguard.execution.order_manager import SubmitResult
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node.bot_book import NOT_TRADED, bot_book, quote_usd
from tradeguard.node.bot_orders import not_closing
from tradeguard.node.bot_trades import SENDING, outcome
from tradeguard.storage.bot_rows import BotRows, BotTradeRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


def bot_strategy_ids(node: TradingNode) -> frozenset[str]:
    """Return the ids of the node's strategies configured with `bot = true`."""
    return frozenset(s.id for s in node.config.strategies if s.bot)


def gateway_refusal(strategy_id: str) -> str:
    """Why a `bot = true` strategy may not borrow an execution gateway (a node refuses it at
    start, and `tradeguard config check` with the same words)."""
    # a gateway's legs book no positions (the strategy's trades are its cycles), so the bot's
    # one position, loss and losing-streak checks could never see them
    return (
        f"strategies[{strategy_id}]: bot = true, but it asks for an execution gateway (a "
        "multi-leg strategy): a bot's checks read its positions, which a gateway's legs do not "
        "book; run it without bot = true"
    )


def bot_gate(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """(code, reason) of the bot's first failed check on `intent`, or None when it passes."""
    name = intent.strategy_id
    row = next((b for b in BotRows(node.db).bots() if b.name == name), None)
    if row is None:
        return "BOT_UNKNOWN", (
            f"strategy {name!r} trades as a bot (bot = true) but no bot {name!r} is registered "
            "any more; register it again (`tradeguard bot add` or [[bots]])"
        )
    if intent.reduce_only and (why := not_closing(node, intent)) is not None:
        return why  # a close of more than the bot holds would sell other strategies' holdings
    if (why := _flips(node, intent)) is not None:
        return why
    spec = BotSpec.parse(row.name, row.spec)
    if spec.venue != intent.venue:
        return "BOT_VENUE", (
            f"bot {name} trades on {spec.venue}, not {intent.venue}; its strategy's venue and "
            "the bot's must be one"
        )
    price = _ask_price(node, intent)
    if price is None or not isinstance(intent.amount, Decimal):
        return "NO_PRICE", f"no market price for {intent.symbol} on {intent.venue} yet"
    # the price is in the symbol's quote (BTC for ETH/BTC): the bot's limits are USD
    rate = quote_usd(node, intent.symbol) or Decimal(1)  # none: the gate refuses the entry
    ask = TradeAsk(intent.symbol, intent.side, intent.amount * price * rate, intent.reduce_only)
    now = node.clock.now_ms()
    book = bot_book(node, spec, intent.symbol)
    if chain := _re_sent(node, intent):
        # the cooldown its own first send (and earlier re-sends) started does not hold it
        # back; one a trade of the bot made since started does
        since = BotTradeRows(node.storage).last_trade_ts(spec.name, NOT_TRADED, chain)
        book = replace(book, last_trade_ms=since)
    verdict = check_trade(spec, row.enabled, ask, book, now)
    if verdict.approved:
        return None
    return verdict.codes[0], "; ".join(verdict.reasons)


def _re_sent(node: TradingNode, intent: OrderIntent) -> tuple[str, ...]:
    """The client order ids of the entry `intent` re-sends and of those it re-sent in turn, back
    to the first send, when `intent` re-sends the unfilled rest of the bot's own entry that its
    order timeout cancelled (`replace_on_timeout`): the signal the cancelled order was approved
    for, carried on, not a new trade. Only once per timed-out order, for no more than it left;
    an order cancelled otherwise (by hand, by a kill) gives ()."""
    old_id = intent.signal.get("replaces")
    old = node.orders.orders.get(old_id) if isinstance(old_id, str) else None
    if old is None or old.reduce_only or intent.reduce_only:
        return ()
    key = (old.strategy_id, old.venue, old.symbol, old.side)
    same = key == (intent.strategy_id, intent.venue, intent.symbol, intent.side)
    if not same or old.status not in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return ()
    if old_id not in node.timeouts.cancelled:
        return ()
    if not isinstance(intent.amount, Decimal) or intent.amount > old.remaining:
        return ()
    orders = node.orders.orders
    if any(orders[c].strategy_id == intent.strategy_id for c in orders.re_sends(old_id)):
        return ()  # re-sent already
    chain = [old.client_order_id]
    while isinstance(prev := old.signal.get("replaces"), str) and prev not in chain:
        found = node.orders.orders.get(prev)
        if found is None or (found.strategy_id, found.venue, found.symbol, found.side) != key:
            break
        chain.append(prev)
        old = found
    return tuple(chain)


def _ask_price(node: TradingNode, intent: OrderIntent) -> Decimal | None:
    """The price an intent is sized at: a buy limit's own (it fills at or under it), a sell
    limit's or the mid, whichever is higher (it fills at or over its limit, at the market when
    under it), a market order's the mid."""
    mid = node.market.mid(intent.symbol, intent.venue)
    limit = intent.price if isinstance(intent.price, Decimal) and intent.price > 0 else None
    if limit is None or (intent.side is Side.SELL and mid is not None and mid > limit):
        return mid
    return limit


def _flips(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """Refuse an intent on the other side of the bot's position that is bigger than it (less
    the bot's orders of that side already working): the gate takes it for a close (no entry
    checks), yet past the position it opens the other side."""
    key = (intent.strategy_id, intent.venue, intent.symbol, intent.side)
    pos = node.portfolio.positions.get((intent.venue, intent.symbol, intent.strategy_id))
    held = pos.quantity if pos is not None else ZERO
    amount = intent.amount
    if not is_reducing(held, intent.side) or not isinstance(amount, Decimal):
        return None
    working = sum(
        (o.remaining for o in node.orders.open.values()
         if (o.strategy_id, o.venue, o.symbol, o.side) == key and not o.type.is_trigger),
        ZERO,
    )  # fmt: skip
    if amount <= abs(held) - working:
        return None
    return "BOT_NOT_REDUCING", (
        f"order denied: {intent.side.value} {amount} of {intent.symbol} as bot "
        f"{intent.strategy_id} would close its position of {plain(abs(held))} and open the "
        f"other side past the bot's limits ({plain(working)} of {intent.side.value} already "
        f"working); send at most {plain(max(ZERO, abs(held) - working))} to close, then the "
        "entry on its own"
    )


async def submit_as_bot(node: TradingNode, intent: OrderIntent) -> SubmitResult:
    """Send a bot strategy's intent through the bot's gate and the one order path, recording
    the order as a bot trade (stored before it is sent, settled with the outcome)."""
    rows = BotTradeRows(node.storage)
    now = node.clock.now_ms()
    trade_id = "bt_" + secrets.token_hex(8)
    record: dict[str, Any] = {
        "side": intent.side.value, "venue": intent.venue, "score": None,
        "size_rule": "sized by the strategy", "by": f"strategy:{intent.strategy_id}",
        "signal": dict(intent.signal), "reducing": intent.reduce_only,
        "amount": plain(intent.amount) if isinstance(intent.amount, Decimal) else None,
        "confirmations": [],
    }  # fmt: skip
    sent: list[str] = []

    def keep(order: Order) -> None:
        sent.append(order.client_order_id)
        doc = {**record, "code": "OK", "reason": "", "public_reason": ""}
        rows.save_trade(trade_id, intent.strategy_id, intent.symbol, SENDING,
                        order.client_order_id, doc, now)  # fmt: skip

    result = await node.submit(intent, keep, gate=lambda: bot_gate(node, intent))
    if sent:  # the gate passed and the order reached the journal: its outcome is recorded
        status, code, reason = outcome(result)
        set_outcome(record, code or "OK", reason)  # the order path's words: withheld from bots
        rows.save_trade(trade_id, intent.strategy_id, intent.symbol, status, sent[0],
                        record, now)  # fmt: skip
    return result
