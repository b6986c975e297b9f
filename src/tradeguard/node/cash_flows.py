"""Money moved in or out of a venue from outside, kept out of the loss limits and the drawdown.

```python
apply_cash_flows(node)   # at start, and after the balance sync applies a venue's figures
```

A balance adjustment booked since the risk state last counted one (`RiskState.flows_seen`, the
newest adjustment id counted) is valued in the valuation asset at the venue's marks and moves
the baselines equity is compared with (the day's and week's opening equity, the peak):
- a transfer the operator declared (`tradeguard transfer`), in either direction: it is no
  trading gain or loss;
- a difference the balance sync or a reconciliation found, only when it adds money: a deposit
  never hides a loss, while a decrease no one explained may be one (a theft, a fee not booked)
  and stays counted as a loss, with a warning naming `tradeguard transfer`;
- any other adjustment (a spot short cleared) moves nothing.
The move and the id counted are saved together, in one write: an adjustment booked just before
a crash is counted by the next start, and never twice. The state of a node that predates this
count starts it at the newest adjustment, whose money its baselines already hold.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.events import Event
from tradeguard.model.money import ZERO, fmt, plain

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

CASH_FLOW_EVENT = "risk.cash_flow"
_DECLARED = ("deposit recorded by ", "withdrawal recorded by ")
_FOUND = ("balance sync:", "reconcile (")


def flow_kind(reason: str) -> str:
    """ "declared" (by `tradeguard transfer`), "found" (by the sync or a reconciliation) or ""."""
    if reason.startswith(_DECLARED):
        return "declared"
    return "found" if reason.startswith(_FOUND) else ""


def _value(node: TradingNode, row: dict[str, Any]) -> Decimal | None:
    asset, amount = str(row["asset"]), Decimal(row["difference"])
    if asset == node.portfolio.valuation_asset:
        return amount
    price = node.portfolio.price_on(str(row["venue"]), asset)
    return None if price is None else amount * price


def apply_cash_flows(node: TradingNode) -> Decimal:
    """Move the risk baselines by the adjustments not counted yet; return the total moved."""
    risk, storage = node.risk, node.storage
    seen = risk.flows_seen
    rows = storage.load_balance_adjustments(after_id=seen)  # each sync reads only the new ones
    newest = max((int(r["id"]) for r in rows), default=0)
    if seen is not None and newest <= seen:
        return ZERO
    total = ZERO
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if seen is None or int(row["id"]) <= seen:
            continue
        total += _counted(node, row)
    with storage.transaction():  # the moved baselines and the id counted, written together
        risk.move_baselines(total, newest)
    return total


def _counted(node: TradingNode, row: dict[str, Any]) -> Decimal:
    """What one adjustment moves the baselines by, announced as `risk.cash_flow`."""
    kind = flow_kind(str(row["reason"]))
    if not kind:
        return ZERO
    value = _value(node, row)
    venue, asset, amount = str(row["venue"]), str(row["asset"]), Decimal(row["difference"])
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
               "the node before withdrawing, then `tradeguard transfer --venue "
               f"{venue} --asset {asset} --amount {plain(amount)} --reason ...` before it "
               "starts again")  # fmt: skip
    severity = "warning" if moved or value is None else "critical"
    (log.warning if severity == "warning" else log.critical)("cash flow: %s", why)
    data = {"asset": asset, "amount": plain(amount), "kind": kind, "adjustment": int(row["id"]),
            "value": None if value is None else plain(value), "moved": plain(moved),
            "reason": why}  # fmt: skip
    node.risk.emit(Event(CASH_FLOW_EVENT, node.clock.now_ms(), data, venue=venue,
                         severity=severity))  # fmt: skip
    return moved


__all__ = ["CASH_FLOW_EVENT", "apply_cash_flows", "flow_kind"]
