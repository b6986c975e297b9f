"""Record a deposit or withdrawal made on a venue while no node was running.

```python
done = await record_transfer(node, "kraken", "BTC", Decimal("0.5"), "deposit", by="ops")
```

A running node's balance sync books such a transfer itself. One made while the node was down is
found by the next start-up reconciliation, which never books a difference beyond the fees'
rounding (it could be a missed fill as well as a deposit): it stores the venue's figures and the
ledger audit halts trading (`execution/reconcile.py`). The operator, who knows what was moved,
says so here: with no order of the journal unended on the venue, the venue's balance of the
asset is read now and the transfer is booked as a recorded balance adjustment only if the
venue's total is exactly the ledger (start + fills - fees + adjustments) plus the amount stated;
any other figure is refused, the record left as it was. A withdrawal a running node's balance
sync (or a reconciliation) already booked as a decrease no one explained, or a deposit it booked
within the balance tolerance (counted as trading), so that the venue now shows the ledger, is
declared after the fact: the newest such adjustment of exactly that amount
not declared yet is named by a row that moves no balance (`declares`), which the node's next
count keeps out of the loss limits (node/cash_flows.py), once. The venue's figures are stored,
an audit event written (`ledger.transfer_recorded`) and sent through the alert channels; the
trading state stays as it is until `tradeguard resume`. A paper venue is refused: only the node
moves its balances, and the balance read from it is the stored row the audit found wrong, so a
difference is a defect.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from tradeguard.execution.balance_sync import WITHIN_TOLERANCE
from tradeguard.model.balance import Balance
from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.model.events import Event
from tradeguard.model.money import ZERO, plain
from tradeguard.node.cash_flows import flow_kind
from tradeguard.node.spot_short_clear import recorded_short, venue_balance

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

TRANSFER_EVENT = "ledger.transfer_recorded"


class TransferRefused(TradeguardError):
    """Nothing is booked: the venue's figure is not the ledger plus the amount, the venue could
    not be read, or orders of the journal are not ended there."""


async def record_transfer(
    node: TradingNode, venue: str, asset: str, amount: Decimal, reason: str, by: str
) -> dict[str, str]:
    """Book `amount` of `asset` (> 0 a deposit, < 0 a withdrawal) moved on `venue`."""
    if venue not in node.venues:
        names = ", ".join(sorted(node.venues)) or "none"
        raise ConfigError(f"--venue {venue}: not a trading venue of the config (venues: {names})")
    if venue in node._paper:
        raise ConfigError(
            f"--venue {venue}: a paper venue, whose balances only the node moves: a difference "
            "from its ledger is no deposit or withdrawal but a ledger defect; inspect it with "
            "`tradeguard doctor`"
        )
    if not amount.is_finite() or amount == 0:
        raise ConfigError(f"--amount {amount}: must be a non-zero number")
    working = node.storage.load_orders(open_only=True, venue=venue)
    if working:
        ids = ", ".join(o.client_order_id for o in working[:5])
        raise TransferRefused(
            f"{venue}: {len(working)} order(s) of the journal not ended ({ids}); a fill still "
            "to come would be booked as the transfer: start the node to reconcile them first"
        )
    stored, ledger = recorded_short(node, venue, asset)
    free, locked = await venue_balance(node, venue, asset, TransferRefused)
    held = free + locked
    with localcontext() as exact:  # compared exactly: 28 digits would round a fine amount
        exact.prec = 80
        moved = held - ledger
    declares = None
    if moved != amount and moved == ZERO:
        declares = _undeclared_change(node, venue, asset, amount)
    if moved != amount and declares is None:
        raise TransferRefused(
            f"{venue} {asset}: the venue holds {plain(held)}, the ledger says {plain(ledger)}: "
            f"a difference of {plain(moved)}, not --amount {plain(amount)}; nothing "
            "booked (a difference you cannot account for may be a missed fill)"
        )
    now = node.clock.now_ms()
    kind = "deposit" if amount > ZERO else "withdrawal"
    data = {
        "asset": asset, "kind": kind, "amount": plain(amount), "stored": plain(stored),
        "ledger": plain(ledger), "venue_total": plain(held), "by": by, "reason": reason,
    }  # fmt: skip
    why = f"{kind} recorded by {by}: {reason}"
    if declares is not None:
        data["declares"] = str(declares)
        why += f" (booked by the balance check as adjustment {declares})"
        ledger = held  # the booking moved the ledger already: this row moves no balance
    storage = node.storage
    event = Event(TRANSFER_EVENT, now, data, venue=venue, severity="warning")
    with storage.transaction():
        storage.record_balance_adjustment(venue, asset, ledger, held, why, now, declares)
        storage.upsert_balances(venue, [Balance(venue, asset, free, locked)], ts=now)
        storage.append_event(event)
        if node.alerts is not None:
            node.alerts.on_event(event)  # sent once this commits
    return data


def _undeclared_change(node: TradingNode, venue: str, asset: str, amount: Decimal) -> int | None:
    """The newest change of exactly `amount` the node found on its own and no declaration names
    yet: a decrease beyond the balance tolerance or within it, or an increase within it (one
    beyond it is counted as a deposit already); refused when each such change is declared."""
    rows = node.storage.load_balance_adjustments(venue)  # newest first
    declared = {int(r["declares"]) for r in rows if r.get("declares") is not None}
    found = [
        int(r["id"])
        for r in rows
        if r["asset"] == asset
        and (
            WITHIN_TOLERANCE in str(r["reason"])
            or (amount < ZERO and flow_kind(str(r["reason"])) == "found")
        )
        and Decimal(r["difference"]) == amount
    ]
    for ident in found:
        if ident not in declared:
            return ident
    if found:
        kind = "deposit" if amount > ZERO else "withdrawal"
        raise TransferRefused(
            f"{venue} {asset}: the {kind} of {plain(amount)} the balance check booked "
            f"(adjustment {found[0]}) is already declared; nothing booked"
        )
    return None


__all__ = ["TRANSFER_EVENT", "TransferRefused", "record_transfer"]
