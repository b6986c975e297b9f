"""`risk.on_loss_halt` in the risk engine alone: which state each mode leaves, that a loss
limit's REDUCING trips nothing again however far equity falls (under the reconciler's halt
too), that it holds until `resume`, and that the mode's record survives a restart."""

from __future__ import annotations

import pytest

from test_risk_support import T0, D, Rig, buy, sell
from tradeguard.model import TradingState
from tradeguard.model.events import EventKind
from tradeguard.risk import ResumeRefused
from tradeguard.risk.observers import RECONCILER_BY

WIDE = {"daily_loss_limit_usd": D(50_000), "daily_loss_limit_pct": D(25)}  # drawdown alone


@pytest.mark.parametrize(
    ("mode", "state"),
    [("halt", TradingState.HALTED), ("reduce", TradingState.REDUCING),
     ("flatten", TradingState.HALTED)],
)  # fmt: skip
def test_each_mode_leaves_its_state_and_says_so(mode, state) -> None:
    rig = Rig(on_loss_halt=mode, **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))  # 11% below the peak
    assert eng.state is state and eng.state_by == "breaker:drawdown"
    [tripped] = rig.kinds(EventKind.BREAKER_TRIPPED)
    assert tripped.data["on_loss_halt"] == mode
    assert eng.last_loss_halt is not None
    assert (eng.last_loss_halt["mode"], eng.last_loss_halt["state"]) == (mode, state.value)
    # a flatten is asked for (and stored as a kill is); no other mode asks
    assert (eng.flatten_asked is not None) is (mode == "flatten")
    assert (eng.last_kill is not None) is (mode == "flatten")
    restarted = rig.restart()
    assert restarted.state is state and restarted.last_loss_halt == eng.last_loss_halt
    assert restarted.flatten_asked is None  # a restart finishes it from last_kill instead


def test_reduce_lets_exits_through_refuses_entries_and_trips_once() -> None:
    rig = Rig(on_loss_halt="reduce", **WIDE)
    eng = rig.engine
    rig.book.hold("BTC/USDT", D(1), D(100))
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))
    for i, equity in enumerate((D(8_500), D(8_000), D(7_600))):  # it goes on falling
        eng.observe_equity(T0 + 2 + i, equity)
    assert len(rig.kinds(EventKind.BREAKER_TRIPPED)) == 1
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:drawdown"
    assert rig.check(sell("1")).approved  # the exit
    denied = rig.check(buy("0.5"))
    assert denied.code == "TRADING_REDUCING" and "`tradeguard resume`" in denied.reason
    eng.resume("ops", "checked")
    assert eng.state is TradingState.ACTIVE


def test_a_halted_stop_names_the_key_that_lets_exits_through() -> None:
    rig = Rig(**WIDE)
    rig.book.hold("BTC/USDT", D(1), D(100))
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D(8_900))
    denied = rig.check(sell("1", reduce_only=True))
    assert denied.code == "TRADING_HALTED"
    assert 'risk.on_loss_halt = "reduce"' in denied.reason


def test_a_daily_loss_reduce_cannot_be_resumed_before_the_next_utc_day() -> None:
    rig = Rig(on_loss_halt="reduce", daily_loss_limit_usd=D(250))
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(9_700))  # 300 lost today
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:daily_loss"
    with pytest.raises(ResumeRefused):
        eng.resume("ops", "too soon")


def test_under_the_reconcilers_halt_a_reduce_waits_for_its_lift_and_trips_once() -> None:
    rig = Rig(on_loss_halt="reduce", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.halt("reconciliation failed", RECONCILER_BY)
    eng.observe_equity(T0 + 1, D(8_900))
    eng.observe_equity(T0 + 2, D(8_000))
    assert len(rig.kinds(EventKind.BREAKER_TRIPPED)) == 1
    assert eng.state is TradingState.HALTED and eng.state_by == RECONCILER_BY
    eng.lift_own_halt(RECONCILER_BY, "reconciliation ok")
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:drawdown"
