"""The kill's follow-up: flatten what the closes that were working when the kill ran leave.

```python
await flatten_and_follow(node, report)   # in the kill, after cancel_all
passes = FollowUpPasses(node)            # in the live loop's duties:
passes.start()                           # every pass, not awaited
await passes.stop()                      # when the duties end
```

The kill's flatten sells only what closes already working will not (`kill_flatten`), since they
may still fill. One that then ends partly filled, expired, cancelled or refused leaves the rest
of its position open: the follow-up waits for each listed close to end, then flattens what
remains, at most `node.kill_follow_up_max_orders` orders sent per position (a flatten the risk
engine refuses is counted apart, up to `node.kill_follow_up_max_denials`) and
`node.kill_follow_up_wait_s` seconds of waiting for each listed close. A spot position is sold
no further than the account's balance, asked of the venue at that moment (bounded and retried
as reconciliation's calls; the node's stored copy stands in only when the venue cannot answer,
and the entry's `balance` says which was read): what was sold by hand meanwhile is not sold
again. Its state
is stored at once (kv `kill.follow_up`) and shown under the kill's `follow_up`. Each pass works
from the positions and the orders still open or unresolved (after start-up's reconciliation,
for a node killed meanwhile): a flatten sent before a crash is filled, working or unresolved, and
is counted, never sold a second time. Trading resumed ends the follow-up.

The live loop runs each pass as its own task and does not wait for it: a venue that hangs
holds a pass for up to `reconcile.call_attempts` x `reconcile.call_timeout_s` per position,
and the loop meanwhile still beats, reads the kill file and sweeps order timeouts. A new pass
starts only once the last one has ended.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import replace
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any

from tradeguard.execution.reconcile_call import ReconcileFailed, call_venue
from tradeguard.model.enums import OrderType, TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import plain
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node.kill_flatten import closing_side, flatten_positions, working_closes
from tradeguard.node.loop_errors import stop_task
from tradeguard.risk.engine import KILL_FLATTEN_TAG
from tradeguard.risk.kill import KillReport
from tradeguard.storage.repository import Storage

if TYPE_CHECKING:
    from tradeguard.model.position import Position
    from tradeguard.node import TradingNode

log = logging.getLogger(__name__)
FOLLOW_KEY = "kill.follow_up"
WAITING = "waiting"
_loaded: weakref.WeakKeyDictionary[TradingNode, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


async def flatten_and_follow(node: TradingNode, report: KillReport) -> None:
    """Flatten, then start following up every position a working close was left to sell.

    The follow-up is stored before the flatten sends anything: a node killed while the
    flatten's orders are on their way comes back following up the closes it lists. Trading
    resumed while the kill cancelled (the operator took over) sends no flatten at all."""
    if node.risk.state is not TradingState.HALTED:
        why = "trading was resumed before the kill's flatten was sent: nothing was closed"
        log.warning("kill switch: %s", why)
        report.failed.append(("flatten", why))
        return
    working = list(chain(node.orders.open.values(), node.orders.unknown.values()))
    listed = [
        {"position": f"{p.venue}:{p.symbol}", "strategy": p.strategy_id,
         "working": [o.client_order_id for o in closes]}
        for p in node.portfolio.open_positions() if (closes := working_closes(p, working))
    ]  # fmt: skip
    _save(node, _started(node, report, listed))
    await flatten_positions(node.portfolio, node.orders, report)
    report.follow_up = _started(node, report, report.closing)
    _save(node, report.follow_up)


def _started(
    node: TradingNode, report: KillReport, closing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    deadline = node.clock.now_ms() + int(node.config.node.kill_follow_up_wait_s * 1000)
    return [
        {"position": c["position"], "strategy": c["strategy"], "waiting": list(c["working"]),
         "sent": [], "attempts": 0, "deadline_ts": deadline, "status": WAITING, "reason": "",
         "kill_ts": report.request.ts, "resume_before": node.risk.last_resume}
        for c in closing
    ]  # fmt: skip


def _entries(node: TradingNode) -> list[dict[str, Any]]:
    entries = _loaded.get(node)
    if entries is None:
        stored = node.storage.kv_get(FOLLOW_KEY)
        entries = _loaded[node] = list(stored) if isinstance(stored, list) else []
    return entries


def _save(node: TradingNode, entries: list[dict[str, Any]]) -> None:
    # Stored at once (not with the next journal commit): a node killed after this comes back
    # still following up.
    _loaded[node] = entries
    if node.storage.in_unit_of_work:
        # a replay's candle unit holds the database (SQLite: its write lock): commit with it,
        # as the flatten's orders do
        node.storage.kv_set(FOLLOW_KEY, entries, node.clock.now_ms())
        return
    Storage(node.db).kv_set(FOLLOW_KEY, entries, node.clock.now_ms())
    last = node.risk.last_kill
    if last is not None and of_kill(entries, last) and last.get("follow_up") != entries:
        node.risk.record_kill({**last, "follow_up": [dict(e) for e in entries]})


def _kill_ts(entry: dict[str, Any]) -> int:
    return int(entry["kill_ts"])


def of_kill(entries: list[dict[str, Any]], kill: dict[str, Any]) -> bool:
    """Whether `entries` follow up the kill `kill` (a later kill, without flatten, has none)."""
    return all(_kill_ts(e) == kill.get("ts") for e in entries)


def _resumed_since(node: TradingNode, entry: dict[str, Any]) -> bool:
    # A resume ends the follow-up even when trading is HALTED again by the time a node looks
    # (a kill without flatten after the resume, a node started only then).
    resume = node.risk.last_resume
    if "resume_before" in entry:  # the last resume when the kill ran: any other is later
        return resume is not None and resume != entry["resume_before"]
    return resume is not None and int(resume.get("ts", 0)) >= _kill_ts(entry)


def _end(node: TradingNode, entry: dict[str, Any], status: str, reason: str = "") -> None:
    entry.update(status=status, reason=reason)
    severity = "critical" if status in ("gave_up", "failed") else "warning"
    node.risk.emit(Event(EventKind.KILL, node.clock.now_ms(),
                         {"stage": "follow_up", **entry}, severity=severity))  # fmt: skip


async def follow_up(node: TradingNode) -> None:
    """Advance every unfinished follow-up once: wait, flatten a remainder, or end it."""
    entries = _entries(node)
    pending = [e for e in entries if e["status"] == WAITING]
    if not pending:
        return
    before = [dict(e) for e in entries]
    for e in pending:
        if _loaded.get(node) is not entries:
            return  # a later kill, run while this pass waited on the venue, has its own
        if not _ended_by_resume(node, e):  # read again for each: a step may wait on the venue
            await _step(node, e, entries)
    if entries != before and _loaded.get(node) is entries:
        _save(node, entries)


class FollowUpPasses:
    """The live loop's follow-up passes, each run as its own task (one at a time)."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start a pass unless one is still running; raise what the last one raised."""
        last = self.task
        if last is not None:
            if not last.done():
                return  # still waiting on a venue: the loop goes on without it
            self.task = None
            if not last.cancelled() and (exc := last.exception()) is not None:
                raise exc
        self.task = asyncio.create_task(follow_up(self.node), name="kill-follow-up")

    async def stop(self) -> None:
        """Cancel a pass still running and wait for it to end; log what a pass that ended
        before the stop raised (no later `start` will)."""
        task, self.task = self.task, None
        await stop_task(task, "kill follow-up pass", log)


def _ended_by_resume(node: TradingNode, e: dict[str, Any]) -> bool:
    """End `e` when trading was resumed (the operator took over); read after every wait on
    the venue, so a resume that came meanwhile sends no flatten."""
    if node.risk.state is TradingState.HALTED and not _resumed_since(node, e):
        return False
    _end(node, e, "ended", "trading was resumed; the follow-up stopped")
    return True


def _still_working(node: TradingNode, coid: str) -> bool:
    return coid in node.orders.open or coid in node.orders.unknown


async def _step(node: TradingNode, e: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    working = [c for c in e["waiting"] if _still_working(node, c)]
    if working:
        if node.clock.now_ms() > int(e["deadline_ts"]):
            _end(
                node,
                e,
                "gave_up",
                f"close(s) {', '.join(working)} still working after "
                f"{node.config.node.kill_follow_up_wait_s:g} s "
                f"(node.kill_follow_up_wait_s); what they leave of {e['position']} stays open: "
                "close it by hand",
            )
        return
    venue, _, symbol = str(e["position"]).partition(":")
    pos = node.portfolio.positions.get((venue, symbol, e["strategy"]))
    if pos is None or pos.quantity == 0:
        _end(node, e, "closed")
        return
    # Any close of the position working now (another one, a flatten sent before a restart)
    # may still sell it: wait for it as for a listed one.
    others = working_closes(pos, chain(node.orders.open.values(), node.orders.unknown.values()))
    if others:
        e["waiting"] = [o.client_order_id for o in others]
        return
    amount = _remainder(node, pos)
    if amount <= 0:
        _end(node, e, "closed", f"the remainder {plain(abs(pos.quantity))} is below what one "
             "order may sell")  # fmt: skip
        return
    held = await _held_on_venue(node, pos, e)
    if _loaded.get(node) is not entries or _ended_by_resume(node, e):
        return  # a later kill replaced this follow-up, or trading resumed, while it was asked
    if held is not None and held < amount:
        # sold outside the node (by hand on the venue) while the follow-up waited: the sale
        # is booked to the account's holdings, the position still says it holds it
        if held <= 0 or _remainder(node, pos, held) <= 0:
            why = (f"the venue holds {plain(held)} of the {plain(amount)} {e['position']} "
                   "still booked: sold outside the node; nothing left to sell")  # fmt: skip
            _end(node, e, "closed", why)
            return
        amount = _remainder(node, pos, held)
    if _out_of_tries(node, e, amount):
        return
    await _flatten(node, e, pos, amount, entries)


def _out_of_tries(node: TradingNode, e: dict[str, Any], amount: Decimal) -> bool:
    """End `e` (failed) when its flattens sent or refused by the risk engine reach their caps."""
    cfg = node.config.node
    left = f"{plain(amount)} of {e['position']} still open"
    last = e["reason"] or "no reason given"
    if int(e["attempts"]) >= cfg.kill_follow_up_max_orders:
        why = (f"{left} after {cfg.kill_follow_up_max_orders} flatten orders "
               f"(node.kill_follow_up_max_orders); last: {last}")  # fmt: skip
    elif int(e.get("denied", 0)) >= cfg.kill_follow_up_max_denials:
        why = (f"{left}: its flatten was refused by the risk engine "
               f"{cfg.kill_follow_up_max_denials} times, never sent "
               f"(node.kill_follow_up_max_denials); last: {last}; close it by hand")  # fmt: skip
    else:
        return False
    _end(node, e, "failed", why)
    return True


async def _held_on_venue(node: TradingNode, pos: Position, e: dict[str, Any]) -> Decimal | None:
    """What the venue holds of a spot long's base asset, asked now (bounded and retried as a
    reconciliation's calls); the node's stored copy only when the venue cannot answer, and
    `e["balance"]` says which it was."""
    # A spot long is coins the account holds: no order can sell more than its balance. The
    # total, not the free part: an ended close's coins may show locked a moment longer.
    inst = node.market.instrument(pos.venue, pos.symbol)
    if inst is None or inst.kind != "spot" or pos.quantity <= 0:
        return None
    copy = node.portfolio.book(pos.venue).total(inst.base)
    venue = node.venues.get(pos.venue)
    if venue is None:
        e["balance"] = f"stored copy {plain(copy)} {inst.base}: venue {pos.venue} not connected"
        return copy
    cfg = node.config.reconcile
    try:
        listed = await call_venue(
            pos.venue, "fetch_balances", venue.fetch_balances, cfg.call_attempts,
            cfg.call_timeout_s, gated=False,
        )  # fmt: skip
    except ReconcileFailed as exc:
        log.warning("kill follow-up: %s; the stored balance stands in", exc)
        e["balance"] = f"stored copy {plain(copy)} {inst.base}: {exc}"
        return copy
    held = sum((b.total for b in listed if b.asset == inst.base), Decimal(0))
    e["balance"] = f"venue {plain(held)} {inst.base}"
    return held


def _remainder(node: TradingNode, pos: Position, held: Decimal | None = None) -> Decimal:
    # what one order may sell: none of a remainder below the lot step, the venue's minimum
    # amount or, what a partly filled close left, its minimum notional
    if held is not None:
        pos = replace(pos, quantity=held)
    return abs(node.portfolio.closable(pos))


async def _flatten(
    node: TradingNode,
    e: dict[str, Any],
    pos: Position,
    amount: Decimal,
    entries: list[dict[str, Any]],
) -> None:
    # The flatten is capped around the venue's price: after a restart nothing may stream it.
    try:
        await node.ensure_market_data(pos.venue, pos.symbol)
    except Exception as exc:  # the order is then denied, and the reason kept
        log.warning("kill follow-up: no prices for %s on %s: %s", pos.symbol, pos.venue, exc)
    if _loaded.get(node) is not entries or _ended_by_resume(node, e):
        return  # a later kill replaced this follow-up, or trading resumed, meanwhile
    intent = OrderIntent(
        strategy_id=pos.strategy_id, venue=pos.venue, symbol=pos.symbol,
        side=closing_side(pos), amount=amount, type=OrderType.MARKET, reduce_only=True,
        tag=KILL_FLATTEN_TAG, signal={"reason": "kill switch flatten", "follow_up": True},
    )  # fmt: skip

    def keep(order: Order) -> None:
        # stored before the venue hears of the order; only an order sent counts as an attempt
        e["attempts"] = int(e["attempts"]) + 1
        e["waiting"] = [order.client_order_id]
        e["sent"] = [*e["sent"], order.client_order_id]
        _save(node, entries)

    result = await node.orders.submit(intent, keep)
    e["reason"] = "" if result.ok else result.reason
    if not result.ok:
        e["waiting"] = []
    if result.order is None:  # refused before it had an id: the risk engine or a blocked symbol
        e["denied"] = int(e.get("denied", 0)) + 1
    node.risk.emit(Event(EventKind.KILL, node.clock.now_ms(),
                         {"stage": "follow_up", "sent": plain(amount), "ok": result.ok, **e},
                         severity="warning"))  # fmt: skip


__all__ = ["FOLLOW_KEY", "FollowUpPasses", "flatten_and_follow", "follow_up", "of_kill"]
