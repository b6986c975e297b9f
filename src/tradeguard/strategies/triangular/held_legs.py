"""Held cycles waiting on an unresolved order: watched until it ends, then their record changed.

```python
legs = HeldLegs(gateway)
legs.expect(ex, cost_per_unit)          # the cycle being recorded is held on this order
record_id = legs.record(row)            # written with the orders still awaited; watched
legs.load(state); legs.start()          # at the next start: the orders a stop left awaited
```

A cycle held on an order the venue never answered (`unresolved.py`), a forward leg or an
unwind hop (one per asset on its way back), names that order. The order
manager keeps asking about it (its periodic query of orders in doubt, the order stream, the next
start's reconciliation); once it ends, the held record is rewritten to what it did
(`resolved.py`), what the cycle realised is reported to the risk engine as one trade, and one
`arb.resolved` event says so (one per order; a record awaiting several orders is reported to
the risk engine once, when the last of them ends, with what the cycle realised in all). The
rewrite, the report (keyed by record and order: counted once) and the orders still awaited are
one commit, so a kill before it resolves the order again at the next start and a kill after it
finds nothing left to do: the change is counted once. The orders awaited are part of the
strategy's record state, committed with each record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.gateway import ExecutionGateway
from tradeguard.strategies.triangular.exec_records import LegExecution
from tradeguard.strategies.triangular.late_fills import LateFills
from tradeguard.strategies.triangular.resolved import Resolution, resolve_row

__all__ = ["HeldLegs"]

log = logging.getLogger(__name__)


def _json_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: plain(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def _part(info: Mapping[str, Any]) -> str:
    """Where in a record the order awaited is: a forward leg or an unwind hop."""
    return "unwinds" if info.get("kind") == "unwind" else "legs"


class HeldLegs:
    """The orders held cycles wait on, each with its record, watched until they end."""

    def __init__(self, gateway: ExecutionGateway, poll_s: float = 5.0) -> None:
        self.gateway = gateway
        self.poll_s = poll_s
        # client order id -> {"record_id", "leg", "from_cost", "row"}
        self.pending: dict[str, dict[str, Any]] = {}
        self.resolved: list[Resolution] = []
        self.last_record_id = 0
        self._expected: list[dict[str, Any]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._kept = False  # a record state was committed: later records keep it current
        self.late = LateFills(gateway, self)  # an order filled after its record: booked in it

    def expect(
        self, ex: LegExecution, cost_per_unit: Mapping[str, Decimal], given: Decimal | None = None
    ) -> None:
        """Note that the cycle about to be recorded is held on `ex` (a forward leg or an unwind
        hop), still in flight; `cost_per_unit` prices what it was given; `given`: how much of
        its from-asset it holds for this order (an unwind hop's own share of the held amount)."""
        cost = cost_per_unit.get(ex.from_asset, ZERO)
        entry = {
            "cid": ex.client_order_id,
            "kind": ex.kind,
            "leg": ex.index,
            "from_cost": plain(cost),
        }
        if given is not None:
            entry["given"] = plain(given)
        self._expected.append(entry)

    @property
    def awaiting(self) -> bool:
        """Whether the cycle about to be recorded is held on an order still in flight."""
        return bool(self._expected)

    def state(self) -> dict[str, Any]:
        """The record state: the newest record's id and the orders still awaited."""
        return {"record_id": self.last_record_id, "pending": dict(self.pending)}

    def record(
        self,
        row: Mapping[str, Any],
        announce: Callable[[int | None], Event | Sequence[Event]] | None = None,
    ) -> int | None:
        """Write a cycle's record (with the orders awaited, when any, and the event `announce`
        returns, published once committed) and watch its order when it is held on one; return
        the record's id."""
        expected, self._expected = self._expected, []
        safe = _json_safe(row)

        def state(record_id: int) -> Mapping[str, Any]:
            self.last_record_id = record_id
            for e in expected:
                self.pending[e["cid"]] = {**e, "record_id": record_id, "row": safe}
            self._kept = True
            return self.state()

        keep = bool(expected) or self._kept
        gateway = self.gateway
        record_id = gateway.record_execution(row, state if keep else None, announce)
        for e in expected:
            if e["cid"] not in self.pending:  # no storage: awaited in this run only
                self.pending[e["cid"]] = {**e, "record_id": record_id, "row": safe}
            self.watch(e["cid"])
        self.late.remember(record_id, safe, (e["cid"] for e in expected))
        return record_id

    def load(self, state: Mapping[str, Any]) -> None:
        """Take back the orders awaited from the strategy's record state (at start)."""
        pending = state.get("pending")
        if isinstance(pending, dict):
            self.pending = {str(c): dict(p) for c, p in pending.items() if isinstance(p, dict)}
            self._kept = True
        self.last_record_id = int(state.get("record_id") or 0)

    def start(self) -> None:
        """Watch every order awaited (a start: the reconciliation may have ended them)."""
        for cid in list(self.pending):
            self.watch(cid)

    def stop(self) -> None:
        """Stop watching (the orders stay awaited in the record state)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def watch(self, cid: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: watched from the next start
            return
        task = self._tasks.get(cid)
        if task is None or task.done():
            self._tasks[cid] = loop.create_task(self._watch(cid), name=f"arb-held:{cid}")

    async def _watch(self, cid: str) -> None:
        try:
            while cid in self.pending:
                order = await self.gateway.wait_terminal(cid, self.poll_s)
                if order is None:  # not restored (it ended before this start): the journal's
                    order = self.gateway.journaled_order(cid)  # row alone (the fills: resolve's)
                if order is not None and order.status.is_terminal:
                    self.resolve(cid, order)
                    return
                if order is None:  # not known to the order path (yet): ask again later
                    await asyncio.sleep(self.poll_s)
        except Exception:  # the watch must not die silently: the order stays awaited
            log.exception("held cycle: resolving order %s failed; it stays held", cid)

    def resolve(self, cid: str, order: Order) -> Resolution | None:
        """Rewrite the held record waiting on `cid` to what its ended `order` did, report it
        and announce it, once; None when no record waits on it."""
        info = self.pending.get(cid)
        if info is None:
            return None
        _, journaled = self.gateway.journaled(cid)
        row, change = resolve_row(info["row"], info, order, journaled, self.gateway.fills(cid))
        safe, same = _json_safe(row), info["record_id"]  # its record's other orders: as now
        rest = {
            c: {**p, "row": safe} if p.get("record_id") == same else p
            for c, p in self.pending.items()
            if c != cid
        }
        # the cycle is one trade to the risk engine: told once its last awaited order ended
        ends = not any(p.get("record_id") == same for p in rest.values())
        settlement = self._settlement(info, row, change) if ends else None
        state = {"record_id": self.last_record_id, "pending": rest}
        event = self._event(info, row, change, cid)  # kept with the rewrite, then published
        self.gateway.amend_execution(info["record_id"], row, settlement, state, announce=event)
        self.late.rewritten(info["record_id"], safe)
        self.pending = rest
        self.gateway.forget(cid)
        self.resolved.append(change)
        return change

    def _settlement(
        self, info: Mapping[str, Any], row: Mapping[str, Any], change: Resolution
    ) -> tuple[str, tuple[str, ...], Decimal, int] | None:
        legs = [*row["legs"]["legs"], *(row["legs"].get("unwinds") or [])]
        if not any(Decimal(str(leg["filled"])) > 0 for leg in legs):
            return None  # nothing traded: no trade to count
        usd = self.gateway.usd_price(str(row["start_asset"])) or ZERO
        symbols = tuple(dict.fromkeys(str(leg["symbol"]) for leg in legs))
        key = f"{self.gateway.strategy_id}:held:{info['record_id']}:{info['cid']}"
        return key, symbols, change.profit * usd, self.gateway.now_ms()

    def _event(
        self, info: Mapping[str, Any], row: Mapping[str, Any], change: Resolution, cid: str
    ) -> Event:
        held = ", ".join(f"{q} {a}" for a, q in change.held.items()) or "nothing"
        cycle = row.get("cycle") or {}
        path = str(cycle.get("path", ""))
        return Event(
            EventKind.ARB_RESOLVED,
            self.gateway.now_ms(),
            {
                "record_id": info["record_id"],
                "path": path,
                "cycle_id": cycle.get("cycle_id"),
                "client_order_id": cid,
                "status": change.status,
                "filled": plain(change.filled),
                "outcome_before": change.outcome_before,
                "outcome": change.outcome,
                "held_before": change.held_before,
                "held": change.held,
                "actual_profit_before": plain(change.profit_before),
                "actual_profit": plain(change.profit),
                "message": (
                    f"arbitrage cycle {path}: {change.note}; record {info['record_id']} "
                    f"now {change.outcome}, holding {held}, profit {plain(change.profit)} "
                    f"{row['start_asset']} (was {plain(change.profit_before)})"
                ),
            },
            self.gateway.venue,
            str(row["legs"][_part(info)][int(info["leg"])]["symbol"]),
            self.gateway.strategy_id,
            "warning" if change.outcome == "held" else "info",
        )
