"""One-cancels-other on the engine side for exits resting as separate orders.

```python
siblings = ExitSiblings(node)
node.orders.fill_listeners.append(siblings.on_fill)
```

A strategy may rest a reduce-only stop and a reduce-only take-profit (or a target limit), each
for the whole position, as two orders: the venue knows nothing ties them, and a spot venue has no
reduce-only, so once one fills the other would sell again, coins another strategy holds or the
account held before. After every fill of a strategy, each of its resting reduce-only orders on the
pair is held to what the position still has to close: cancelled once nothing is left, cancelled
and placed again for what is left when a partial fill shrank the position (cancel first: both
would hold the same coins). Legs of a venue OCO (`oco_group`) and bots' venue exits
(`signal["native"]`, `bots.native_exits`) are left to the venue and the bots' exit manager.

Between a fill and the cancel the other order may fill too (both triggered by one move): a spot
venue without OCO cannot rule that out. It is detected: a reduce-only fill that leaves the
strategy's position on the other side is an overshoot, reported (critical event
`exit.overshoot` and an error log naming both orders) and, with `node.exit_overshoot = "close"`
(the default), bought or sold back at market; "report" only reports it.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.bots.node_exits import rests
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.model.order import Order, OrderIntent

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

OVERSHOOT_EVENT = "exit.overshoot"
TRIMMED_EVENT = "exit.sibling_trimmed"
OVERSHOOT_TAG = "exit-overshoot"
UNPROTECTED_EVENT = "exit.replace_refused"
# exits cancelled to be placed again smaller, not yet placed: {cancelled id: amount}
PENDING_KEY = "node.exit_replacements"
RETRY_DELAYS_S = (1.0, 5.0, 30.0, 60.0)  # a refused replacement is tried again, then each 60 s
Key = tuple[str, str, str]  # venue, symbol, strategy


def _cap(side: Side, qty: Decimal) -> Decimal:
    """What a closing order on `side` may still close of a position of `qty`."""
    if side is Side.SELL:
        return max(qty, ZERO)
    return max(-qty, ZERO)


def _overshoot(order: Order, qty: Decimal, amount: Decimal) -> Decimal:
    """How far a reduce-only fill of `amount` of `order` carried the strategy's position past
    flat (0: not at all). Past flat, it sold what the strategy did not hold: coins of another
    strategy or held before, which the strategy now owes."""
    if not order.reduce_only or amount <= 0:
        return ZERO
    sign = 1 if order.side is Side.SELL else -1
    return min(max(-qty * sign, ZERO), amount)


class ExitSiblings:
    """Hold each strategy's resting exits to its position after every fill."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[Key] = set()
        self._again: set[Key] = set()
        self._last_exit: dict[Key, str] = {}  # the last reduce-only order that filled, by key

    def on_fill(self, fill: Fill, order: Order | None) -> None:
        """A fill listener: check the strategy's resting exits soon (a listener cannot await)."""
        if order is None or order.oco_group or order.signal.get("native"):
            return
        key = (order.venue, order.symbol, order.strategy_id)
        qty = self._qty(key)
        before = self._last_exit.get(key, "")
        if order.reduce_only:
            self._last_exit[key] = order.client_order_id
        excess = _overshoot(order, qty, fill.amount)
        if excess > 0:
            self._report(key, order, before, excess)
        if not self._resting(key):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous replay step): the next fill in a loop checks
        if key in self._busy:
            self._again.add(key)
            return
        task = loop.create_task(self._run(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _qty(self, key: Key) -> Decimal:
        pos = self.node.portfolio.positions.get(key)
        return ZERO if pos is None else pos.quantity

    def _resting(self, key: Key) -> list[Order]:
        venue, symbol, strategy = key
        return [
            o for o in self.node.orders.open.values()
            if o.strategy_id == strategy and o.venue == venue and o.symbol == symbol
            and o.reduce_only and rests(o) and not o.oco_group and not o.signal.get("native")
        ]  # fmt: skip

    async def _run(self, key: Key) -> None:
        self._busy.add(key)
        try:
            while True:
                self._again.discard(key)
                await self.trim(key)
                if key not in self._again:
                    return
        except Exception:  # a listener's task: log, the next fill checks again
            log.exception("exits of %s on %s %s: check failed", key[2], key[0], key[1])
        finally:
            self._busy.discard(key)

    async def trim(self, key: Key) -> None:
        """Cancel, or cancel and place smaller, every resting exit of `key` that would close more
        than the position holds."""
        for order in self._resting(key):
            cap = _cap(order.side, self._qty(key))
            if order.remaining <= cap:
                continue
            inst = self.node.market.instrument(order.venue, order.symbol)
            keep = quantize_down(cap, inst.amount_step) if inst is not None else cap
            await self._replace(key, order, keep)

    async def _replace(self, key: Key, order: Order, keep: Decimal) -> None:
        cid = order.client_order_id
        what = "cancelled" if keep <= 0 else f"shrunk to {keep}"
        log.warning(
            "%s: exit %s on %s %s would close %s, more than the position holds; %s",
            key[2], cid, key[0], key[1], order.remaining, what,
        )  # fmt: skip
        if keep > 0:  # journaled before the cancel: a restart places what a crash left undone
            self._pending(cid, keep)
        await self.node.orders.cancel(cid)
        if order.is_open:
            self._pending(cid, None)
            return  # the cancel failed or is unresolved: the next fill checks again
        if order.filled > 0 and order.remaining > 0 and self._qty(key) == 0:
            self._pending(cid, None)
            return
        replaced = await self._place(key, order, keep)
        self.node.bus.publish(
            Event(
                TRIMMED_EVENT, self.node.clock.now_ms(),
                {"strategy": key[2], "venue": key[0], "symbol": key[1], "order": cid,
                 "replaced_by": replaced, "amount": str(keep)},
                severity="warning",
            )
        )  # fmt: skip

    def _pending(self, cid: str, keep: Decimal | None) -> None:
        """Journal (or, None, forget) that the cancelled exit `cid` is to be placed again for
        `keep`."""
        storage = self.node.storage
        pending = dict(storage.kv_get(PENDING_KEY) or {})
        if keep is None and cid not in pending:
            return
        if keep is None:
            del pending[cid]
        else:
            pending[cid] = str(keep)
        if pending:
            storage.kv_set(PENDING_KEY, pending)
        else:
            storage.kv_delete(PENDING_KEY)

    async def _place(self, key: Key, order: Order, keep: Decimal, attempt: int = 0) -> str:
        """Place the cancelled exit `order` again for `keep` (no more than the position holds
        now: it may have filled meanwhile); return the new order's id, "" when none rests.
        Refused: a critical event and another try later, the journaled intent kept."""
        cid = order.client_order_id
        keep = min(keep, _cap(order.side, self._qty(key)))
        inst = self.node.market.instrument(order.venue, order.symbol)
        keep = quantize_down(keep, inst.amount_step) if inst is not None and keep > 0 else keep
        if keep <= 0:
            self._pending(cid, None)
            return ""
        intent = OrderIntent(
            order.strategy_id, order.venue, order.symbol, order.side, keep, order.type,
            order.price, order.time_in_force, reduce_only=True,
            signal={**order.signal, "replaces": cid}, trigger_price=order.trigger_price,
        )  # fmt: skip
        result = await self.node.submit(intent)
        new = result.order
        if result.ok and new is not None and new.status is not OrderStatus.REJECTED:
            self._pending(cid, None)
            return new.client_order_id
        self._refused(key, order, keep, f"{result.code} {result.reason}".strip(), attempt)
        return ""

    def _refused(self, key: Key, order: Order, keep: Decimal, why: str, attempt: int) -> None:
        venue, symbol, strategy = key
        delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
        log.error(
            "%s: exit %s on %s %s was cancelled to be placed again for %s, refused (%s): %s "
            "of the position rests without it; trying again in %ss",
            strategy, order.client_order_id, venue, symbol, keep, why, keep, delay,
        )  # fmt: skip
        if attempt == 0:
            self.node.bus.publish(
                Event(
                    UNPROTECTED_EVENT, self.node.clock.now_ms(),
                    {"strategy": strategy, "venue": venue, "symbol": symbol,
                     "order": order.client_order_id, "amount": str(keep), "reason": why},
                    severity="critical",
                )
            )  # fmt: skip
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # the journaled intent is placed at the next start
        task = loop.create_task(self._retry(key, order, keep, delay, attempt + 1))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry(self, key: Key, order: Order, keep: Decimal, delay: float, n: int) -> None:
        await asyncio.sleep(delay)
        try:
            if order.client_order_id in (self.node.storage.kv_get(PENDING_KEY) or {}):
                await self._place(key, order, keep, n)
        except Exception:  # a task: log; the journaled intent is placed at the next start
            log.exception("%s: exit %s: placing again failed", key[2], order.client_order_id)

    async def resume(self) -> None:
        """At start, after reconciliation: place again each exit a crash left cancelled and not
        yet placed smaller (or, its cancel never taken, hold it to the position again)."""
        pending = dict(self.node.storage.kv_get(PENDING_KEY) or {})
        for cid, amount in pending.items():
            order = self.node.orders.orders.get(cid) or self.node.storage.get_order(cid)
            if order is None:
                self._pending(cid, None)
                continue
            key = (order.venue, order.symbol, order.strategy_id)
            placed = any(o.signal.get("replaces") == cid for o in self.node.orders.open.values())
            if placed or order.is_open:
                self._pending(cid, None)
                if order.is_open:
                    await self.trim(key)
                continue
            log.warning("%s: exit %s was cancelled to be placed again for %s; placing it",
                        key[2], cid, amount)  # fmt: skip
            await self._place(key, order, Decimal(amount))

    def _report(self, key: Key, order: Order, before: str, excess: Decimal) -> None:
        venue, symbol, strategy = key
        others = [before] if before and before != order.client_order_id else []
        names = ", ".join([*others, order.client_order_id])
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # no loop to close it from: say so rather than claim a close
        close = self.node.config.node.exit_overshoot == "close" and loop is not None
        log.error(
            "%s: exits %s on %s %s both filled; the position is %s past flat (%s)",
            strategy, names, venue, symbol, excess,
            "closing it at market" if close else "left for you to close",
        )  # fmt: skip
        self.node.bus.publish(
            Event(
                OVERSHOOT_EVENT, self.node.clock.now_ms(),
                {"strategy": strategy, "venue": venue, "symbol": symbol,
                 "orders": [*others, order.client_order_id], "excess": str(excess),
                 "closing": close},
                severity="critical",
            )
        )  # fmt: skip
        if not close or loop is None:
            return
        side = Side.BUY if order.side is Side.SELL else Side.SELL
        intent = OrderIntent(
            strategy, venue, symbol, side, excess, OrderType.MARKET,
            reduce_only=self.node.portfolio.net_quantity(venue, symbol) * (
                -1 if side is Side.BUY else 1) > 0,
            signal={"exit": "overshoot", "orders": [*others, order.client_order_id]},
            tag=OVERSHOOT_TAG,
        )  # fmt: skip
        task = loop.create_task(self._close(intent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, intent: OrderIntent) -> None:
        result = await self.node.submit(intent)
        if not result.ok:
            log.error(
                "%s: close of the overshoot on %s %s refused: %s %s", intent.strategy_id,
                intent.venue, intent.symbol, result.code, result.reason,
            )  # fmt: skip


async def resume_replacements(node: TradingNode) -> None:
    """The node's one-cancels-other listener places again what a crash left cancelled."""
    for listener in node.orders.fill_listeners:
        owner = getattr(listener, "__self__", None)
        if isinstance(owner, ExitSiblings):
            await owner.resume()
