"""One record that booked a pair and a lone leg beside it (a start after a kill found the second
leg hedging only part of the first, the rest held) settles twice: once per position. The
cycle is one trade: it is won or lost by what both settled at together, never counted twice."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.portfolio.arb_summary import ArbSummary
from tradeguard.portfolio.figures import TradeTotals

D = Decimal
ROW = {
    "id": 7,
    "outcome": "held",
    "start_asset": "USD",
    "actual_profit": "0.30",  # the pair's profit, counted at 1 per contract pair
    "actual_profit_pct": "3",
    "ts": 1,
    "held": {"NO": "6"},
}


def _summary() -> ArbSummary:
    summary = ArbSummary()
    summary.add(ROW)
    assert summary.profitable == 1
    return summary


def test_a_pair_and_its_lone_leg_both_settled_won_count_one_win() -> None:
    summary = _summary()
    summary.settle(D("0.30"), D("0.30"), 7, D("3.70"))  # the pair: as counted
    summary.settle(D("0"), D("0.50"), 7, D("2.40"))  # the lone leg won too
    assert summary.profitable == 1
    totals = summary.trade_totals(lambda _a: D(1), TradeTotals())
    assert (totals.trades, totals.wins) == (1, 1)
    assert summary.to_json()["win_rate"] == 1.0


def test_a_lone_leg_lost_beyond_the_pairs_profit_turns_the_cycle_lost_once() -> None:
    summary = _summary()
    summary.settle(D("0"), D("-2.40"), 7, D("2.40"))  # the lone leg lost what it cost
    assert summary.profitable == 0
    summary.settle(D("0.30"), D("0.30"), 7, D("3.70"))  # then the pair, as counted
    assert summary.profitable == 0
    assert summary.results[0].profit == D("-2.10")


def test_settlements_folded_in_again_give_the_same_count() -> None:
    summary = _summary()
    summary.settle(D("0.30"), D("0.30"), 7, D("3.70"))
    summary.settle(D("0"), D("0.50"), 7, D("2.40"))
    again = _summary()
    again.restore_settled(summary.settled_json())
    assert again.profitable == summary.profitable == 1
