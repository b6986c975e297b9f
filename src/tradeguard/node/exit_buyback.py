"""The buy-back (or sell-back) of an overshoot: what a strategy's exits sold past flat.

```python
buyback = Buyback(node, tasks)            # held by the node's ExitSiblings
buyback.start(key, exits, excess, side)   # a fill carried the position past flat
buyback.on_end(order)                     # a buy-back ended: the venue left part of it
await buyback.stop()                      # in node.stop(): no retry outlives the node
```

The close goes at market. Refused (stale market data, a breaker, a halt) it is alerted
critically (`exit.overshoot_close_refused`) and tried again after 1, 5 and 30 s, then each
minute, for what is still past flat then, less what is already on its way to close it: the
strategy's own market orders on that side (a kill's flatten among them) and closes sent by hand
through the API under the strategy's id since the exits went past flat (a resting limit too; a
bid resting from before is no close).
A refusal for another reason than the last is alerted again; a halt's alert says how to close by
hand (`by_hand`): a halt lets no new order through but the kill switch's flatten. A buy-back the
venue ends with part of it unfilled (a thin book: the rest expires) is tried again for what is
still past flat, at once after a fill, later each time none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.events import Event
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.signal_keys import placed_through_api
from tradeguard.node.exit_overshoot import less_closing, mark_reported

if TYPE_CHECKING:
    from tradeguard.node.exit_siblings import Key
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

OVERSHOOT_EVENT = "exit.overshoot"
OVERSHOOT_TAG = "exit-overshoot"
CLOSE_REFUSED_EVENT = "exit.overshoot_close_refused"
RETRY_DELAYS_S = (1.0, 5.0, 30.0, 60.0)  # a refused close is tried again, then each 60 s
HALTED = "TRADING_HALTED"


def closable(side: Side, qty: Decimal) -> Decimal:
    """What a closing order on `side` may still close of a position of `qty`."""
    if side is Side.SELL:
        return max(qty, ZERO)
    return max(-qty, ZERO)


def by_hand(intent: OrderIntent) -> str:
    """How to close, while trading is HALTED, what the refused buy-back `intent` would."""
    what = f"{intent.side.value} {intent.amount} {intent.symbol} on {intent.venue}"
    return (
        f"trading is HALTED and lets no order through: the {what} for strategy "
        f"{intent.strategy_id} waits. After `tradeguard resume` the next try (each minute) "
        "sends it; to close now, `tradeguard kill --flatten` (or POST /api/v1/kill with "
        "flatten=true) cancels every order and closes every position"
    )


class Buyback:
    """Close at market what exits carried past flat; try again until it is closed."""

    def __init__(self, node: TradingNode, tasks: set[asyncio.Task[None]]) -> None:
        self.node = node
        self._tasks = tasks  # the owner's tasks: one set for `stop` to end
        self.closing: set[str] = set()  # exits whose overshoot's close is on its way
        self._sent: dict[str, int] = {}  # buy-backs the venue took: {id: attempt}
        self._last: dict[Key, str] = {}  # the last refusal's code, by key
        self._waiting: set[asyncio.Task[Any]] = set()  # retries asleep until their try
        self.stopped = False

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self, key: Key, exits: list[str], excess: Decimal, side: Side) -> None:
        """Close `excess` from a fill listener (a task: a listener cannot await)."""
        self.closing.update(exits)
        self._spawn(self.close(self.intent(key, exits, excess, side)))

    async def report(self, key: Key, exits: list[str], excess: Decimal) -> None:
        """Close at market (or report) what the fills of `exits` carried `key` past flat."""
        close = self.node.config.node.exit_overshoot == "close"
        self.announce(key, exits, excess, close)
        if not close:
            mark_reported(self.node, exits, excess)
            return
        pos = self.node.portfolio.positions.get(key)
        side = Side.SELL if pos is not None and pos.quantity < 0 else Side.BUY  # the exits'
        self.closing.update(exits)
        await self.close(self.intent(key, exits, excess, side))

    def announce(self, key: Key, exits: list[str], excess: Decimal, close: bool) -> None:
        venue, symbol, strategy = key
        log.error(
            "%s: exits %s on %s %s %s; the position is %s past flat (%s)",
            strategy, ", ".join(exits), venue, symbol,
            "both filled" if len(exits) > 1 else "filled past flat", excess,
            "closing it at market" if close else "left for you to close",
        )  # fmt: skip
        self.node.bus.publish(
            Event(
                OVERSHOOT_EVENT, self.node.clock.now_ms(),
                {"strategy": strategy, "venue": venue, "symbol": symbol,
                 "orders": exits, "excess": str(excess), "closing": close},
                severity="critical",
            )
        )  # fmt: skip

    def intent(self, key: Key, exits: list[str], excess: Decimal, side: Side) -> OrderIntent:
        """The close of `excess` that exits on `side` sold (or bought) past flat."""
        venue, symbol, strategy = key
        back = Side.BUY if side is Side.SELL else Side.SELL
        sign = -1 if back is Side.BUY else 1
        pos = self.node.portfolio.positions.get(key)
        own = ZERO if pos is None else pos.quantity  # past flat: the close reduces it, even
        # beside another strategy's larger holding that keeps the account's net on this side
        return OrderIntent(
            strategy, venue, symbol, back, excess, OrderType.MARKET,
            reduce_only=own * sign > 0
            or self.node.portfolio.net_quantity(venue, symbol) * sign > 0,
            signal={"exit": "overshoot", "orders": exits},
            tag=OVERSHOOT_TAG,
        )  # fmt: skip

    async def close(self, intent: OrderIntent, attempt: int = 0) -> None:
        """Send the overshoot's close; refused, say so and try again later for what is still
        past flat then."""
        exits: list[str] = intent.signal["orders"]
        if self.stopped:
            self.closing.difference_update(exits)
            return  # the node stopped: the next start closes what is left past flat
        try:
            result = await self.node.submit(intent)
        except BaseException:
            self.closing.difference_update(exits)
            raise
        key = (intent.venue, intent.symbol, intent.strategy_id)
        if result.ok:
            self.closing.difference_update(exits)
            self._last.pop(key, None)
            if result.order is not None:
                self._sent[result.order.client_order_id] = attempt
                if result.order.status.is_terminal:
                    self.on_end(result.order)  # ended before submit returned
            return
        self._refused(key, intent, result.code, result.reason, attempt)

    def _refused(self, key: Key, intent: OrderIntent, code: str, reason: str, attempt: int) -> None:
        exits: list[str] = intent.signal["orders"]
        delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
        why = f"{code} {reason}".strip()
        hand = by_hand(intent) if code == HALTED else ""
        log.error(
            "%s: close of the overshoot on %s %s refused (%s): the position stays %s past "
            "flat; trying again in %ss%s", intent.strategy_id, intent.venue, intent.symbol, why,
            intent.amount, delay, f"; {hand}" if hand else "",
        )  # fmt: skip
        if attempt == 0 or self._last.get(key) != code:
            self.node.bus.publish(
                Event(
                    CLOSE_REFUSED_EVENT, self.node.clock.now_ms(),
                    {"strategy": intent.strategy_id, "venue": intent.venue,
                     "symbol": intent.symbol, "orders": exits, "excess": str(intent.amount),
                     "reason": why, "retry_in_s": delay, "by_hand": hand},
                    severity="critical",
                )
            )  # fmt: skip
        self._last[key] = code
        self._spawn(self._again(intent, delay, attempt + 1))

    def on_end(self, order: Order) -> None:
        """A buy-back the venue took has ended: what it left unfilled, the venue ending it (a
        thin book), is tried again for what is still past flat; not one the node cancelled."""
        attempt = self._sent.pop(order.client_order_id, None)
        if attempt is None or order.remaining <= 0 or self.stopped:
            return
        if order.client_order_id in self.node.orders.cancel_requested:
            return  # cancelled by the node (a kill, the API): not sent again
        exits: list[str] = list(order.signal.get("orders") or [])
        key = (order.venue, order.symbol, order.strategy_id)
        log.warning(
            "%s: close of the overshoot %s on %s %s %s with %s of %s unfilled; trying again",
            key[2], order.client_order_id, key[0], key[1], order.status.value,
            order.remaining, order.amount,
        )  # fmt: skip
        step = 0 if order.filled > 0 else attempt + 1  # a fill is progress: soon again
        side = Side.SELL if order.side is Side.BUY else Side.BUY  # the exits' side
        self.closing.update(exits)
        delay = RETRY_DELAYS_S[min(step, len(RETRY_DELAYS_S) - 1)]
        self._spawn(self._again(self.intent(key, exits, order.amount, side), delay, step))

    def _closing(self, key: Key, intent: OrderIntent) -> Decimal:
        """What is on its way to close on the close's side: the strategy's own market orders,
        and closes sent by hand through the API (a resting limit too) since the exits went past
        flat; a limit resting from before (a bid placed while it held the position) is none."""
        since = self._past_flat_ts(intent.signal["orders"])
        return sum(
            (o.remaining for o in self.node.orders.open.values()
             if (o.venue, o.symbol, o.strategy_id) == key and o.side is intent.side
             and o.signal.get("exit") != "overshoot"
             and (o.type is OrderType.MARKET
                  or (o.type is OrderType.LIMIT and placed_through_api(o.signal)
                      and o.created_ts >= since))),
            ZERO,
        )  # fmt: skip

    def _past_flat_ts(self, exits: list[str]) -> int:
        """When the fills of `exits` carried the position past flat: the last one's time."""
        ts = 0
        for cid in exits:
            order = self.node.orders.orders.get(cid) or self.node.storage.get_order(cid)
            ts = max(ts, 0 if order is None else order.updated_ts)
        return ts

    async def _again(self, intent: OrderIntent, delay: float, attempt: int) -> None:
        exits: list[str] = intent.signal["orders"]
        await self.nap(delay)
        key = (intent.venue, intent.symbol, intent.strategy_id)
        try:
            pos = self.node.portfolio.positions.get(key)
            past = closable(intent.side, ZERO if pos is None else pos.quantity)  # still past flat
            by_hand_too = self._closing(key, intent)  # on its way: the strategy's, by hand
            due = less_closing(self.node, key, min(intent.amount, past) - by_hand_too)
            inst = self.node.market.instrument(intent.venue, intent.symbol)
            if inst is not None and due > 0:  # a buy's fee in the coin leaves a part-step
                due = quantize_down(due, inst.amount_step)
            if due <= 0:  # closed meanwhile (by hand, a fill): nothing left to buy back
                self.closing.difference_update(exits)
                return
            side = Side.SELL if intent.side is Side.BUY else Side.BUY  # the exits' side
            await self.close(self.intent(key, exits, due, side), attempt)
        except Exception:  # a task: log; a restart closes what is left past flat
            self.closing.difference_update(exits)
            log.exception("%s: close of the overshoot on %s %s failed", *key[::-1])

    async def nap(self, delay: float) -> None:
        """Sleep `delay` before a retry's try; `stop` ends the sleep (and the retry)."""
        task = asyncio.current_task()
        if task is None:
            return
        self._waiting.add(task)
        try:
            await asyncio.sleep(delay)
        finally:
            self._waiting.discard(task)

    async def stop(self) -> None:
        """End the retries waiting for their try: a stopped node sends nothing more (the next
        start closes what is left past flat)."""
        self.stopped = True
        waiting = list(self._waiting)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
