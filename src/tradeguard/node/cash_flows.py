"""Money moved in or out of a venue from outside, kept out of the loss limits and the drawdown.

```python
apply_cash_flows(node)   # at start, after a sync or reconciliation, and before any equity
```

Each balance adjustment not counted yet (`counted_ts` empty; ids above the risk state's
`flows_seen`, the count's floor) is valued in the valuation asset at the venue's marks and
moves the baselines equity is compared with (the day's and week's opening equity, the peak,
the opening equity of the node's daily summary, and the run's own start and peak):
- a transfer the operator declared (`tradeguard transfer`), in either direction: it is no
  trading gain or loss; a withdrawal declared after the balance sync booked it names that
  adjustment (`declares`) and moves them by its amount;
- a difference the balance sync or a reconciliation found, only when it adds money: a deposit
  never hides a loss, while a decrease no one explained may be one (a theft, a fee not booked)
  and stays counted as a loss, with a warning naming `tradeguard transfer`;
- any other adjustment (a spot short cleared, the start-up reconciliation's, which books only a
  difference within the fees' rounding: an exchange crediting 8 decimals of a fill the ledger
  books at price * amount in full; dust the sync or a periodic reconciliation found within
  the balance tolerance, named `WITHIN_TOLERANCE`; what a fill of a trade that FAILED on chain
  moved, put back, named `FAILED_ON_CHAIN`) moves nothing and raises no alert.
An adjustment that would move them but has no price yet waits, counted at the first equity
figure its price reaches (equity counts it at zero until then), never at zero after a bound
(its later price would show as trading), with a warning event once per UTC day while it waits.
The node counts what was booked before it reads equity again (`flows_due`): a quote between a
booking and its count would raise the peak by the deposit, and the count would raise it once
more. The moves and the marks of the
adjustments counted are written in one transaction with the run's figures: counted once,
whatever the crashes and the order their rows committed in. The state of a node that predates
this count starts its floor at the newest adjustment, whose money its baselines already hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.execution.balance_sync import WITHIN_TOLERANCE
from tradeguard.execution.failed_fills import FAILED_ON_CHAIN
from tradeguard.model.events import Event
from tradeguard.model.money import ZERO, fmt, plain
from tradeguard.model.text import name_shown
from tradeguard.node.checkpoint import save_run_stats

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

CASH_FLOW_EVENT = "risk.cash_flow"
_DAY_MS = 86_400_000
_DECLARED = ("deposit recorded by ", "withdrawal recorded by ")
_FOUND = ("balance sync:", "reconcile (")
_ROUNDING = "reconcile (startup)"


@dataclass(slots=True)
class FlowWatch:
    """What the node knows between counts: the adjustments its storage had recorded at the
    last one, and those waiting for a price."""

    recorded: int = 0
    waiting: list[dict[str, Any]] = field(default_factory=list)
    warned: dict[int, int] = field(default_factory=dict)  # id -> the UTC day last alerted


def flow_kind(reason: str) -> str:
    """ "declared" (by `tradeguard transfer`), "found" (by the sync or a reconciliation) or ""."""
    if reason.startswith(_DECLARED):
        return "declared"
    if reason.startswith(_ROUNDING) or WITHIN_TOLERANCE in reason or FAILED_ON_CHAIN in reason:
        return ""  # the fees' rounding, dust within the sync's tolerance, or a trade that
        # never settled (its fill's money put back): no cash flow
    return "found" if reason.startswith(_FOUND) else ""


def flows_due(node: TradingNode) -> bool:
    """Whether an adjustment was booked since the last count, or one waiting has a price now
    or is due its day's alert."""
    watch = node.flow_watch
    if node.storage.adjustments_recorded != watch.recorded:
        return True
    day = node.clock.now_ms() // _DAY_MS
    return any(
        _value(node, row) is not None or watch.warned.get(int(row["id"])) != day
        for row in watch.waiting
    )


def _value(node: TradingNode, row: dict[str, Any]) -> Decimal | None:
    asset, amount = str(row["asset"]), Decimal(row["amount"])
    if asset == node.portfolio.valuation_asset:
        return amount
    price = node.portfolio.price_on(str(row["venue"]), asset)
    return None if price is None else amount * price


def apply_cash_flows(node: TradingNode) -> Decimal:
    """Move the risk baselines by the adjustments not counted yet; return the total moved."""
    risk, storage, watch = node.risk, node.storage, node.flow_watch
    watch.recorded = storage.adjustments_recorded
    floor = risk.flows_seen
    if floor is None:  # a state from before this count: its baselines hold every one so far
        newest = max((int(r["id"]) for r in storage.load_balance_adjustments()), default=0)
        with storage.transaction():
            risk.move_baselines(ZERO, newest)
        return ZERO
    rows = storage.load_uncounted_adjustments(after_id=floor)
    declared = _declared_amounts(node, rows)
    total, counted, waiting = ZERO, [], []
    said: list[Event] = []  # each count's announcement, made once it is stored
    seen: list[tuple[int, Decimal]] = []  # (when booked, value) of withdrawals declared late
    for row in rows:
        booked = declared.get(int(row["id"]))
        row["amount"] = Decimal(row["difference"]) if booked is None else booked[1]
        moved = _counted(node, row, said)
        if moved is None:
            waiting.append(row)
            continue
        total += moved
        if booked is not None:  # the equity seen since its booking holds it already
            seen.append((booked[0], moved))
        counted.append(int(row["id"]))
    watch.waiting = waiting
    if counted:
        undo = _held(node)
        try:
            _move_run_figures(node, total, seen)
            with storage.transaction():  # the moved baselines, figures and marks, together
                storage.mark_adjustments_counted(counted, node.clock.now_ms())
                if total:
                    save_run_stats(node)  # a SIGKILL after this commit loses none of the move
                risk.move_baselines(total, floor, seen)
        except BaseException:  # nothing committed: the figures in memory go back, counted again
            for obj, name, value in undo:  # (and announced then, once)
                setattr(obj, name, value)
            raise
    for event in said:
        node.risk.emit(event)
    return total


_TRACKED = ("start", "peak", "last", "_trough", "max_drawdown_pct")
_RISK = ("day_start_equity", "week_start_equity", "flows_seen", "_limits", "_quiet_inputs")


def _held(node: TradingNode) -> list[tuple[object, str, object]]:
    """What a count moves in memory, as it is before the count: put back if its transaction
    fails, so the retry moves it once (the writes read these figures, so they move first)."""
    risk = node.risk
    held: list[tuple[object, str, object]] = [
        (node, "_day_start_equity", node._day_start_equity),
        (node.flow_watch, "recorded", node.flow_watch.recorded - 1),  # due again
    ]
    held += [(risk, name, getattr(risk, name)) for name in _RISK]
    for tracker in (node.run_equity, risk.equity_tracker):
        held += [(tracker, name, getattr(tracker, name)) for name in _TRACKED]
    return held


def _move_run_figures(node: TradingNode, total: Decimal, seen: list[tuple[int, Decimal]]) -> None:
    """The run's start, peak and last equity, and the daily summary's opening equity, move
    with outside money too: the run's P&L, return and drawdown are trading only."""
    if total:
        node.run_equity.shift(total, total - sum((v for _, v in seen), ZERO))
        if node._day is not None:  # a day opened after a booking opened without its money
            node._day_start_equity += total - sum(
                (v for ts, v in seen if ts // _DAY_MS != node._day), ZERO
            )


def _declared_amounts(
    node: TradingNode, rows: list[dict[str, Any]]
) -> dict[int, tuple[int, Decimal]]:
    """(when booked, amount) of each declaration row: the adjustment it declares'."""
    named = {int(r["declares"]): int(r["id"]) for r in rows if r.get("declares") is not None}
    if not named:
        return {}
    found = {int(r["id"]): r for r in node.storage.load_balance_adjustments()}
    return {
        mine: (int(found[old]["ts"]), Decimal(found[old]["difference"]))
        for old, mine in named.items()
        if old in found
    }


def _counted(node: TradingNode, row: dict[str, Any], said: list[Event]) -> Decimal | None:
    """What one adjustment moves the baselines by, its `risk.cash_flow` announcement added to
    `said`; None while it waits for a price."""
    kind = flow_kind(str(row["reason"]))
    if not kind:
        return ZERO
    value = _value(node, row)
    venue, asset, amount = str(row["venue"]), name_shown(str(row["asset"])), row["amount"]
    if value is None and (kind == "declared" or amount > ZERO):
        _waits(node, row, venue, asset, amount)
        return None
    unit = node.risk.valuation.unit
    moved = ZERO if value is None or (kind == "found" and value < ZERO) else value
    if value is None:
        why = (f"{venue} {asset} {plain(amount)} could not be valued (no price): the loss "
               "limits and the drawdown count it as trading")  # fmt: skip
    elif moved:
        why = (f"{venue} {asset} {plain(amount)} ({fmt(value)} {unit}), "
               f"{'declared' if kind == 'declared' else 'a deposit found by the balance sync'}"
               ": the loss limits and the drawdown baselines move with it")  # fmt: skip
    else:
        why = (f"{venue} {asset} {plain(amount)} ({fmt(value)} {unit}) left the account with "
               "no transfer declared: counted as a loss, as a theft or an unbooked fee would "
               "be; a known withdrawal is kept out of the loss limits by declaring it: stop "
               "the node, then `tradeguard transfer --venue "
               f"{venue} --asset {asset} --amount {plain(amount)} --reason ...`")  # fmt: skip
    severity = "warning" if moved or value is None else "critical"
    (log.warning if severity == "warning" else log.critical)("cash flow: %s", why)
    data = {"asset": asset, "amount": plain(amount), "kind": kind, "adjustment": int(row["id"]),
            "value": None if value is None else plain(value), "moved": plain(moved),
            "reason": why}  # fmt: skip
    said.append(Event(CASH_FLOW_EVENT, node.clock.now_ms(), data, venue=venue,
                      severity=severity))  # fmt: skip
    return moved


def _waits(node: TradingNode, row: dict[str, Any], venue: str, asset: str, amount: Any) -> None:
    """Alert once per UTC day while an adjustment waits for a price: it is never counted at
    zero, since the price it gets later would then show as a trading gain or loss."""
    ident, now = int(row["id"]), node.clock.now_ms()
    day = now // _DAY_MS
    if node.flow_watch.warned.get(ident) == day:
        return
    node.flow_watch.warned[ident] = day
    why = (f"{venue} {asset} {plain(amount)} (adjustment {ident}) has no price yet: it is "
           "counted apart from trading once one appears (equity counts it at 0 until then); "
           f"trade or quote a market that prices {asset} on {venue} to count it")  # fmt: skip
    log.warning("cash flow: %s", why)
    data = {"asset": asset, "amount": plain(amount), "kind": flow_kind(str(row["reason"])),
            "adjustment": ident, "value": None, "moved": "0", "reason": why,
            "waiting_since": int(row["ts"])}  # fmt: skip
    node.risk.emit(Event(CASH_FLOW_EVENT, now, data, venue=venue, severity="warning"))


__all__ = ["CASH_FLOW_EVENT", "FlowWatch", "apply_cash_flows", "flow_kind", "flows_due"]
