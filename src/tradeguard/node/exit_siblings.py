"""One-cancels-other on the engine side for exits resting as separate orders.

```python
siblings = ExitSiblings(node)
node.orders.fill_listeners.append(siblings.on_fill)
node.bus.subscribe(siblings.on_order_end, "order.rejected")  # and filled, cancelled, expired
```

A strategy may rest a reduce-only stop and a reduce-only take-profit (or a target limit), each
for the whole position, as two orders: the venue knows nothing ties them, and a spot venue has no
reduce-only, so once one fills the other would sell again, coins another strategy holds or the
account held before. After every fill of a strategy, each of its resting reduce-only orders on the
pair is held to what the position still has to close: cancelled once nothing is left, cancelled
and placed again for what is left when a partial fill shrank the position (cancel first: both
would hold the same coins). Exits one move fills together (a side's take-profits and targets,
or its stops) are held to it together, the nearest first. Legs of a venue OCO (`oco_group`) and
bots' venue exits (`signal["native"]`, `bots.native_exits`) are left to the venue and the bots'
exit manager.

Between a fill and the cancel the other order may fill too (both triggered by one move): a spot
venue without OCO cannot rule that out. It is detected: a reduce-only fill that leaves the
strategy's position on the other side is an overshoot, reported (critical event
`exit.overshoot` and an error log naming both orders) and, with `node.exit_overshoot = "close"`
(the default), bought or sold back at market (`node/exit_buyback.py`: refused or filled in
part, tried again for what is still past flat); "report" only reports it.

A smaller exit placed again that the venue refuses, at once or later (rejected or expired on the
order stream after `submit` returned ok, or cancelled by anyone but the node: the journal records
a rejection after acknowledgement as a cancel), is alerted critically (`exit.replace_refused`)
and tried again after 1, 5 and 30 s, then each minute, journaled (`node.exit_replacements`) so
that a restart places it. A cancel for nothing is journaled too (amount 0), and so is any cancel
the node sends for a smaller exit (the API's, a timeout's, a kill's: `on_cancel`): a restart that
finds the order cancelled then knows the node asked for it, and places nothing. An exit the paper
venue ends as "reduce-only: ..." (a fired exit closes what it would) is no refusal.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.enums import OrderStatus, Side, trigger_on_fall
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.model.order import Order, OrderIntent, rests
from tradeguard.node.exit_buyback import (
    CLOSE_REFUSED_EVENT,
    OVERSHOOT_EVENT,
    OVERSHOOT_TAG,
    RETRY_DELAYS_S,
    Buyback,
)
from tradeguard.node.exit_buyback import closable as _cap
from tradeguard.node.exit_overshoot import left_to_venue, mark_reported, resume_overshoots
from tradeguard.node.exit_overshoot import overshoot as _overshoot

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

TRIMMED_EVENT = "exit.sibling_trimmed"
UNPROTECTED_EVENT = "exit.replace_refused"
# exits cancelled to be placed again smaller, not yet placed: {cancelled id: amount}
PENDING_KEY = "node.exit_replacements"
# how a venue that keeps reduce-only (paper) says it ended an exit with nothing left to reduce,
# the position closed or a fired exit closing it: no refusal, nothing to place again
REDUCE_ONLY_ENDED = "reduce-only:"
Key = tuple[str, str, str]  # venue, symbol, strategy
__all__ = ["CLOSE_REFUSED_EVENT", "OVERSHOOT_EVENT", "OVERSHOOT_TAG", "ExitSiblings"]


def _on_fall(order: Order) -> bool:
    """Whether `order` fills on a fall of the price (a sell stop, a buy target), else a rise."""
    if order.type.is_trigger:
        return trigger_on_fall(order.type, order.side)
    return order.side is Side.BUY


def _nearest_first(order: Order) -> Decimal:
    """Orders of one group by the price a move reaches first."""
    price = (order.trigger_price if order.type.is_trigger else order.price) or ZERO
    return -price if _on_fall(order) else price


class ExitSiblings:
    """Hold each strategy's resting exits to its position after every fill."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[Key] = set()
        self._again: set[Key] = set()
        self._last_exit: dict[Key, str] = {}  # the last reduce-only order that filled, by key
        self.buyback = Buyback(node, self._tasks)  # closes what exits sold past flat
        self.closing = self.buyback.closing  # exits whose overshoot's close is on its way
        self._shrinking: set[str] = set()  # exits a check is cancelling to place smaller
        self._rows: dict[str, str] | None = None  # the journaled replacements, once read

    def on_fill(self, fill: Fill, order: Order | None) -> None:
        """A fill listener: check the strategy's resting exits soon (a listener cannot await)."""
        if order is None or left_to_venue(order):
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
        than the position holds. Exits one move fills together (the take-profits and targets,
        or the stops, of one side) close no more than it together: the nearest keep theirs."""
        taken: dict[tuple[Side, bool], Decimal] = {}
        for order in sorted(self._resting(key), key=_nearest_first):
            group = (order.side, _on_fall(order))
            cap = max(_cap(order.side, self._qty(key)) - taken.get(group, ZERO), ZERO)
            if order.remaining <= cap:
                taken[group] = taken.get(group, ZERO) + order.remaining
                continue
            inst = self.node.market.instrument(order.venue, order.symbol)
            keep = quantize_down(cap, inst.amount_step) if inst is not None else cap
            taken[group] = taken.get(group, ZERO) + keep
            await self._replace(key, order, keep)

    async def _replace(self, key: Key, order: Order, keep: Decimal) -> None:
        self._shrinking.add(order.client_order_id)
        try:
            await self._shrink(key, order, keep)
        finally:
            self._shrinking.discard(order.client_order_id)

    async def _shrink(self, key: Key, order: Order, keep: Decimal) -> None:
        cid = order.client_order_id
        what = "cancelled" if keep <= 0 else f"shrunk to {keep}"
        log.warning(
            "%s: exit %s on %s %s would close %s, more than the position holds; %s",
            key[2], cid, key[0], key[1], order.remaining, what,
        )  # fmt: skip
        # Journaled before the cancel, even for nothing (0): a restart places what a crash left
        # undone, and takes the cancel it finds for the node's own, not the venue's refusal.
        self._pending(cid, max(keep, ZERO))
        await self.node.orders.cancel(cid)
        if order.is_open:
            # The cancel failed or is unresolved: the next fill checks again, and if it lands
            # later (or the order fills), `on_order_end` places the journaled smaller one.
            return
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

    def _journal(self) -> dict[str, str]:
        """The journaled replacements (read once: only this writes them)."""
        if self._rows is None:
            self._rows = dict(self.node.storage.kv_get(PENDING_KEY) or {})
        return self._rows

    def _pending(self, cid: str, keep: Decimal | None) -> None:
        """Journal (or, None, forget) that the cancelled exit `cid` is to be placed again for
        `keep`."""
        storage = self.node.storage
        pending = self._journal()
        if keep is None and cid not in pending:
            return
        if keep is None:
            del pending[cid]
        else:
            pending[cid] = str(keep)
        if pending:
            storage.kv_set(PENDING_KEY, dict(pending))
        else:
            storage.kv_delete(PENDING_KEY)

    async def _place(self, key: Key, order: Order, keep: Decimal, attempt: int = 0) -> str:
        """Place the cancelled exit `order` again for `keep` (no more than the position holds
        now: it may have filled meanwhile); return the new order's id, "" when none rests.
        Refused: a critical event and another try later, the journaled intent kept."""
        cid = order.client_order_id
        if self.buyback.stopped:
            return ""  # the node stopped: the journaled intent is placed at the next start
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

    def on_cancel(self, order: Order) -> None:
        """A cancel listener: a smaller exit placed again that the node cancels (the API, a
        timeout, a kill) is journaled for nothing before the cancel is sent, as a shrink's is:
        a restart that finds it cancelled takes that for the node's own cancel, not a refusal."""
        cid = order.client_order_id
        if not order.signal.get("replaces") or cid in self._shrinking:
            return  # no replacement, or a shrink's cancel: that journaled its own row
        if cid not in self._journal():
            self._pending(cid, ZERO)

    def on_order_end(self, event: Event) -> None:
        """A bus handler (order filled, cancelled, rejected, expired). An exit whose cancel
        was unresolved when it was to be placed smaller is placed smaller now that it ended.
        A smaller exit placed again that the venue ended without our cancel after `submit`
        returned ok (rejected or expired on the order stream or at a status query) left the
        position without it: it is placed again and alerted like one refused at once."""
        orders = self.node.orders
        new = orders.orders.get(str(event.data.get("client_order_id", "")))
        if new is not None and new.signal.get("exit") == "overshoot":
            self.buyback.on_end(new)
            return
        if new is not None and new.client_order_id in self._journal():
            self._ended(new)
            return
        cid = new.signal.get("replaces") if new is not None else None
        if new is None or not cid or new.remaining <= 0 or not new.status.is_terminal:
            return
        if new.client_order_id in orders.cancel_requested:
            return  # cancelled by the node: shrunk again, a kill, a timeout
        if cid in self._journal():
            return  # still being placed: `_place` reads its own answer
        if new.reason.startswith(REDUCE_ONLY_ENDED):
            log.info("%s: exit %s ended by %s: %s", new.strategy_id, new.client_order_id,
                     new.venue, new.reason)  # fmt: skip
            return  # nothing left to reduce: a fired exit closes what it would have
        old = orders.orders.get(cid) or self.node.storage.get_order(cid)
        key = (new.venue, new.symbol, new.strategy_id)
        keep = min(new.remaining, _cap(new.side, self._qty(key)))
        if old is None or keep <= 0:
            return
        self._pending(cid, keep)
        why = f"{new.client_order_id} {new.status.value} by the venue after it took it"
        self._refused(key, old, keep, f"{why}: {new.reason}" if new.reason else why, 0)

    def _ended(self, order: Order) -> None:
        cid = order.client_order_id
        if cid in self._shrinking or order.is_open:
            return  # its check places it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # the journaled intent is placed at the next start
        key = (order.venue, order.symbol, order.strategy_id)
        task = loop.create_task(self._place_late(key, order, Decimal(self._journal()[cid])))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _place_late(self, key: Key, order: Order, keep: Decimal) -> None:
        cid = order.client_order_id
        if cid in self._shrinking or cid not in self._journal():
            return  # placed by a check or the start-up step meanwhile
        if self.node.start_reconciling:
            # Start-up reconciliation found it cancelled and still runs (balances, trades):
            # nothing is sent on a book not reconciled; `resume` places it right after.
            return
        if keep > 0:
            log.warning("%s: exit %s ended after its cancel was unresolved; placing it again "
                        "for %s", key[2], cid, keep)  # fmt: skip
        try:
            await self._place_once(key, order, keep)
        except Exception:  # a task: log; the journaled intent is placed at the next start
            log.exception("%s: exit %s: placing again failed", key[2], cid)

    async def _place_once(self, key: Key, order: Order, keep: Decimal) -> None:
        """`_place`, with `order` marked as in hand: nothing else places it meanwhile."""
        self._shrinking.add(order.client_order_id)
        try:
            await self._place(key, order, keep)
        finally:
            self._shrinking.discard(order.client_order_id)

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
        await self.buyback.nap(delay)
        try:
            if order.client_order_id in self._journal() and not self.buyback.stopped:
                await self._place(key, order, keep, n)
        except Exception:  # a task: log; the journaled intent is placed at the next start
            log.exception("%s: exit %s: placing again failed", key[2], order.client_order_id)

    async def resume(self) -> None:
        """At start, after reconciliation: place again each exit a crash left cancelled and not
        yet placed smaller (or, its cancel never taken, hold it to the position again)."""
        for cid, amount in list(self._journal().items()):
            order = self.node.orders.orders.get(cid) or self.node.storage.get_order(cid)
            if order is None:
                self._pending(cid, None)
                continue
            key = (order.venue, order.symbol, order.strategy_id)
            placed = any(o.signal.get("replaces") == cid for o in self.node.orders.open.values())
            if cid in self._shrinking:
                continue  # a fill's check is shrinking it now: it places it, its row stays
            if placed or order.is_open:
                self._pending(cid, None)
                if order.is_open and key in self._busy:
                    self._again.add(key)  # a fill's check runs: it holds this exit too
                elif order.is_open:
                    await self._run(key)
                continue
            if Decimal(amount) > 0:
                log.warning("%s: exit %s was cancelled to be placed again for %s; placing it",
                            key[2], cid, amount)  # fmt: skip
            await self._place_once(key, order, Decimal(amount))

    def _report(self, key: Key, order: Order, before: str, excess: Decimal) -> None:
        others = [before] if before and before != order.client_order_id else []
        exits = [*others, order.client_order_id]
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop to close it from: say so rather than claim a close
            self.buyback.announce(key, exits, excess, False)
            mark_reported(self.node, exits, excess)
            return
        close = self.node.config.node.exit_overshoot == "close"
        self.buyback.announce(key, exits, excess, close)
        if not close:
            mark_reported(self.node, exits, excess)
            return
        self.buyback.start(key, exits, excess, order.side)

    async def report_overshoot(self, key: Key, exits: list[str], excess: Decimal) -> None:
        """Close at market (or report) what the fills of `exits` carried `key` past flat."""
        await self.buyback.report(key, exits, excess)

    async def stop(self) -> None:
        """End the retries waiting for their try (buy-backs, smaller exits placed again): a
        stopped node sends nothing more; the next start does what is left."""
        await self.buyback.stop()


async def resume_replacements(node: TradingNode) -> None:
    """The node's one-cancels-other listener places again what a crash left cancelled, and
    closes (or reports) what a crash left past flat."""
    for listener in node.orders.fill_listeners:
        owner = getattr(listener, "__self__", None)
        if isinstance(owner, ExitSiblings):
            await owner.resume()
            await resume_overshoots(node, owner)
