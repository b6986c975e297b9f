"""Reconciliation compares the cross-venue pairs held with both venues' outcome tokens."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_settle_check import holding_strategy
from tradeguard.execution.reconcile import ReconcileReport, _check_positions
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal


class Node:
    """What `_check_positions` reads of a node: the portfolio and the strategies."""

    def __init__(self, strategies: list) -> None:
        self.portfolio = Portfolio("USD")
        self.strategies = strategies


def test_held_pair_missing_on_one_venue_is_reported_and_matching_tokens_are_not():
    strat, _ = holding_strategy()  # 10 contracts: polymarket YES + kalshi NO
    assert strat.held_assets() == {
        ("polymarket", "fed-above-4pct-dec:YES"): D(10),
        ("kalshi", "KXFED-26DEC-T4.00:NO"): D(10),
    }
    node = Node([strat])
    node.portfolio.book("polymarket").set("fed-above-4pct-dec:YES", D(10))
    node.portfolio.book("kalshi").set("KXFED-26DEC-T4.00:NO", D(4))  # 6 gone on the venue
    reports = {v: ReconcileReport(trigger="periodic") for v in ("polymarket", "kalshi")}
    for venue, report in reports.items():
        _check_positions(node, venue, report)

    assert reports["polymarket"].position_mismatches == []
    assert reports["kalshi"].position_mismatches == [
        {
            "venue": "kalshi",
            "asset": "KXFED-26DEC-T4.00:NO",
            "positions": "10",
            "venue_total": "4",
            "held_by": "pmarb",
        }
    ]
