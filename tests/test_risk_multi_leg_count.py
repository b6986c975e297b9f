"""Trades-per-day for multi-leg executions: a later leg's dry run counts the earlier legs of
the same plan, and an arbitrage unwind (closing a lone leg) is never refused for the count."""

from __future__ import annotations

from test_risk_support import Rig, buy, sell
from tradeguard.model.order import ARB_UNWIND_TAG


def test_a_dry_run_counts_the_legs_ahead_of_it_in_the_same_plan() -> None:
    rig = Rig(max_trades_per_day=3)
    for _ in range(2):
        assert rig.check(buy("0.5")).approved
    # one trade left: the plan's first leg passes, its second (one leg ahead) does not
    eng = rig.engine
    assert eng.check(buy("0.5"), rig.book, rig.market, dry_run=True).approved
    second = eng.check(buy("0.5"), rig.book, rig.market, dry_run=True, ahead=1)
    assert second.code == "MAX_TRADES_PER_DAY"
    assert "2 trades today and 1 leg ahead reach max_trades_per_day=3" in second.reason
    assert eng.trades_today == 2  # dry runs count nothing


def test_an_arb_unwind_is_not_refused_for_the_trades_per_day_count() -> None:
    rig = Rig(max_trades_per_day=1)
    assert rig.check(buy("0.5")).approved
    assert rig.check(buy("0.5")).code == "MAX_TRADES_PER_DAY"
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).approved
