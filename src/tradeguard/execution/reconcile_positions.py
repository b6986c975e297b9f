"""Reconciliation's last step: the positions and the holdings they claim against a venue's
balances (a spot long needs the base asset on the venue)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.execution.host import ReconcileHost
from tradeguard.model.money import ZERO, plain

if TYPE_CHECKING:
    from tradeguard.execution.reconcile import ReconcileReport

log = logging.getLogger("tradeguard.execution.reconcile")


def check_positions(node: ReconcileHost, venue: str, report: ReconcileReport) -> None:
    """Report each asset the positions (and strategies' multi-leg holdings) claim beyond what
    `venue` holds (`position_mismatches`)."""
    book = node.portfolio.book(venue)
    held: dict[str, Decimal] = {}
    for pos in node.portfolio.open_positions():
        if pos.venue != venue or pos.quantity <= 0:
            continue
        base = pos.symbol.split("/", 1)[0]
        held[base] = held.get(base, ZERO) + pos.quantity
    held_by: dict[str, list[str]] = {}
    for strat in node.strategies:  # multi-leg holdings without positions (cross-venue pairs)
        assets = getattr(strat, "held_assets", None)
        for (v, base), qty in (assets() if assets is not None else {}).items():
            if v == venue and qty > 0:
                held[base] = held.get(base, ZERO) + qty
                held_by.setdefault(base, []).append(strat.id)
    for base, qty in sorted(held.items()):
        total = book.total(base)
        if qty > total:
            row = {
                "venue": venue,
                "asset": base,
                "positions": plain(qty),
                "venue_total": plain(total),
            }
            if base in held_by:
                row["held_by"] = ", ".join(held_by[base])
            log.warning("%s: %s held %s but the venue has %s", venue, base, qty, total)
            report.position_mismatches.append(row)
