"""A reconciliation's report, how it closes (its own writes, then its alert) and the trading
state it leaves (`gate`).

The closing writes (the venues' checkpoints, the order journal's queued rows, the periodic
pass's cash-flow count, the report itself) and the periodic pass's settlement before the
venues are each guarded: one the database refuses (a locked SQLite file, a full disk, a lost
PostgreSQL connection) fails the reconciliation, naming the write and the database's words,
instead of ending the live run. What it did not write is kept for the next try (a checkpoint
read from the last one stored, queued rows queued again, a settlement or a cash flow found
again), so the next reconciliation that writes it completes, and lifts the halt.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import halt_held
from tradeguard.execution.host import ReconcileHost
from tradeguard.execution.reconcile_call import database_refused
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.risk.state import CHECKPOINT_BY, ResumeRefused

log = logging.getLogger(__name__)

REPORT_KEY = "reconcile.report"
CHECKPOINT_KEY = "reconcile.checkpoint_ms"  # venue -> ms of the last successful reconciliation
RECONCILER = RECONCILER_BY  # the name a loss breaker takes a halt over from


@dataclass
class ReconcileReport:
    """What reconciliation found and did; `ok` False means the node must not trade."""

    ok: bool = True
    reason: str = ""
    trigger: str = "startup"
    started_ms: int = 0
    finished_ms: int = 0
    duration_s: float = 0.0
    venues: list[str] = field(default_factory=list)
    orders_checked: int = 0
    orders_updated: list[str] = field(default_factory=list)
    orders_missing: list[str] = field(default_factory=list)
    external_orders: list[str] = field(default_factory=list)
    external_action: str = "adopt"
    fills_recovered: int = 0
    unknown_orders: list[str] = field(default_factory=list)
    balance_adjustments: list[dict[str, str]] = field(default_factory=list)
    position_mismatches: list[dict[str, str]] = field(default_factory=list)
    held_shrunk: list[dict[str, Any]] = field(default_factory=list)  # legs no longer held
    balances_deferred: list[dict[str, str]] = field(default_factory=list)
    fills_unreadable: list[str] = field(default_factory=list)  # orders escalated, symbol blocked
    fills_failed: list[dict[str, str]] = field(default_factory=list)  # booked, FAILED on chain
    ledger_differences: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def fail(self, reason: str) -> None:
        """Mark the report failed; the first reason is kept, later ones are appended."""
        self.ok = False
        self.reason = reason if not self.reason else f"{self.reason}; {reason}"


def written(report: ReconcileReport, what: str, again: str, write: Callable[[], Any]) -> bool:
    """Run `write`; a database refusal fails `report` (naming `what` and what the next
    reconciliation does `again`) instead of raising. Say whether it was written."""
    try:
        write()
    except SQLAlchemyError as exc:
        report.fail(database_refused(what, exc, again))
        return False
    return True


async def settled(report: ReconcileReport, settle: Callable[[], Awaitable[Any]]) -> bool:
    """`written` for the settlement pass: one the database refused leaves every resolution to
    the next pass (a payout booked as a venue's balance difference would be paid twice)."""
    try:
        await settle()
    except SQLAlchemyError as exc:
        again = "asks the venues for their settlements again; balances wait for them"
        report.fail(database_refused("the settlement pass", exc, again))
        return False
    return True


def close(
    node: ReconcileHost,
    report: ReconcileReport,
    checkpoints: dict[str, int],
    after: Callable[[], Any] | None,
) -> None:
    """Write what a reconciliation writes last (each guarded by `written`), store the report
    and publish it (`reconcile.done`, or a critical `reconcile.failed`)."""
    storage = node.storage
    if checkpoints:
        again = "reads the venues' fills from the last checkpoint stored"
        written(report, "storing the venues' reconciliation checkpoints", again,
                lambda: storage.kv_set(CHECKPOINT_KEY, checkpoints))  # fmt: skip
    again = "writes them (they wait for the next commit)"
    written(report, "writing the order journal's queued rows", again, node.orders.flush)
    if after is not None:
        written(report, "counting cash flows", "counts them", after)
    report.finished_ms = node.clock.now_ms()
    written(report, "storing the reconciliation's report", "stores its own",
            lambda: storage.kv_set(REPORT_KEY, report.to_json()))  # fmt: skip
    kind = EventKind.RECONCILED if report.ok else EventKind.RECONCILE_FAILED
    severity = "info" if report.ok else "critical"
    node.bus.publish(Event(kind, report.finished_ms, report.to_json(), severity=severity))


def gate(node: ReconcileHost, report: ReconcileReport) -> None:
    """Apply `report` to the trading state: a failure halts (unless a halt stands already), a
    success lifts a halt only the reconciler had set, and only once every venue whose balances'
    commit failed has had them written since (a pass that deferred them keeps the halt). Right
    however late it comes: a halt set by anyone else meanwhile (kill switch, loss limit,
    operator) is never taken over nor lifted. A change of state the database cannot store
    holds in memory (it is stored with the next commit), as the halt must."""
    risk, trigger = node.risk, report.trigger
    try:
        _gate(node, report)
    except SQLAlchemyError as exc:
        log.error("%s reconciliation: trading is %s; storing the state failed (%s): it is "
                  "stored with the next commit", trigger, risk.state.value, exc)  # fmt: skip


def _gate(node: ReconcileHost, report: ReconcileReport) -> None:
    risk, trigger = node.risk, report.trigger
    if not report.ok:
        log.error("%s reconciliation failed: %s", trigger, report.reason)
        # A halt set by someone else (kill switch, loss limit, operator) already blocks every
        # order; taking it over would let the next good reconciliation lift it. The
        # checkpoint's halt is taken over: the next checkpoint written would lift it with this
        # failure standing (the checkpoint's is owed beneath it until written: RiskState.halt).
        if risk.state is not TradingState.HALTED or risk.state_by == CHECKPOINT_BY:
            reason = f"{trigger} reconciliation failed: {report.reason}"
            halt_held(risk, reason, RECONCILER, node.clock.now_ms())
    elif risk.state is TradingState.HALTED and risk.state_by == RECONCILER:
        owed = node.orders.balances_owed
        if owed:
            log.warning("%s reconciliation completed; trading stays HALTED until the balances "
                        "of %s are written (their last commit failed: %s)", trigger,
                        ", ".join(sorted(owed)), "; ".join(owed.values()))  # fmt: skip
            return
        try:
            risk.lift_own_halt(RECONCILER, f"{trigger} reconciliation completed")
        except ResumeRefused as exc:  # a loss limit's day-long halt came on meanwhile
            log.warning("%s reconciliation completed; trading stays HALTED: %s", trigger, exc)
