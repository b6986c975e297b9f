"""Trades-per-day for multi-leg executions: a later leg's dry run counts the earlier legs of
the same plan, and an arbitrage unwind (closing a lone leg) is never refused for the count."""

from __future__ import annotations

from decimal import Decimal as D

from test_risk_support import T0, Rig, buy, sell
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
    rig.engine.cycle_holdings.hold("s1", "paper", "BTC", D("0.5"))  # the lone leg to close
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).approved


def _losing_round_trip(rig: Rig) -> None:
    """A losing trade on BTC/USDT: its market cools down for cooldown_after_loss_s."""
    f, closed = rig.book.fill(buy("0.5"), D("100"), T0)
    rig.engine.observe_fill(f, closed, "s1")
    f, closed = rig.book.fill(sell("0.5"), D("99"), T0 + 1000)
    rig.engine.observe_fill(f, closed)
    rig.at(T0 + 2000)


def test_a_cycle_whose_later_leg_is_cooling_down_is_rejected_before_its_first_leg() -> None:
    # the cycle was approved, its first legs filled, and the last leg on the cooling market
    # was refused: the bought asset was stranded (and its unwind on that market refused too)
    rig = Rig(cooldown_after_loss_s=300)
    _losing_round_trip(rig)
    legs = [buy("0.5", symbol="ETH/USDT"), sell("0.5", symbol="ETH/BTC"),
            sell("0.5", symbol="BTC/USDT")]  # fmt: skip
    d = rig.engine.check_cycle(legs, D(2), D("0.3"), D(50))
    assert not d.approved and d.code == "COOLDOWN"
    assert "leg 3 (BTC/USDT) is cooling down for 299" in d.reason
    rig.at(T0 + 301_000)
    assert rig.engine.check_cycle(legs, D(2), D("0.3"), D(50)).approved


def test_an_arb_unwind_is_not_refused_for_a_cooling_market() -> None:
    rig = Rig(cooldown_after_loss_s=300)
    _losing_round_trip(rig)
    assert rig.check(sell("0.5")).code == "COOLDOWN"
    rig.engine.cycle_holdings.hold("s1", "paper", "BTC", D("0.5"))  # a stranded leg
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).approved
