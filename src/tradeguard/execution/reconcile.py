"""Reconciliation: make the journal agree with every venue before any new order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tradeguard.model.errors import VenueError
from tradeguard.model.events import Event, EventKind

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What reconciliation found and did; `ok` False means the node must not trade."""

    ok: bool = True
    reason: str = ""
    orders_checked: int = 0
    orders_updated: list[str] = field(default_factory=list)
    orders_missing: list[str] = field(default_factory=list)
    external_orders: list[str] = field(default_factory=list)
    fills_recovered: int = 0
    balance_adjustments: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def reconcile_all(node: Any) -> ReconcileReport:
    """Check every open journal order against its venue by client order id, and adopt fills."""
    report = ReconcileReport()
    om = node.orders
    for order in list(om.open.values()):
        report.orders_checked += 1
        try:
            before = (order.status, order.filled)
            result = await om.resolve(order)
            if result is None and order.status.value == "rejected":
                report.orders_missing.append(order.client_order_id)
            elif (order.status, order.filled) != before:
                report.orders_updated.append(order.client_order_id)
        except VenueError as exc:
            report.ok = False
            report.reason = (
                f"venue {order.venue} could not be queried for {order.client_order_id}: {exc}"
            )
            break
    if om.unknown:
        report.ok = False
        report.reason = f"{len(om.unknown)} order(s) in unknown state: " + ", ".join(
            sorted(om.unknown)
        )
    kind = EventKind.RECONCILED if report.ok else EventKind.RECONCILE_FAILED
    node.bus.publish(
        Event(
            kind=kind,
            ts=node.clock.now_ms(),
            data=report.to_json(),
            severity="info" if report.ok else "critical",
        )
    )
    return report
