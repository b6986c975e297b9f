"""A reconciler's own halt never becomes a way to lift a loss limit's halt."""

from __future__ import annotations

from pathlib import Path

import pytest

from execution_stubs import make_rig
from test_risk_support import DAY_MS, T0, D, Rig
from tradeguard.execution.reconcile import RECONCILER, reconcile_and_gate
from tradeguard.model.enums import TradingState
from tradeguard.risk import ResumeRefused


async def test_a_daily_loss_during_a_reconciler_halt_is_not_lifted_by_a_good_pass(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    risk_rig = Rig()
    eng = risk_rig.engine
    rig.risk = eng  # type: ignore[assignment]
    eng.observe_equity(T0, D(10_000))
    eng.halt("periodic reconciliation failed: venue down", RECONCILER)
    eng.observe_equity(T0 + 1, D(9_000))  # the daily loss limit trips while halted
    assert eng.daily_loss_halt_day is not None

    same_day = await reconcile_and_gate(rig, "periodic")
    assert same_day.ok
    assert eng.state is TradingState.HALTED  # refused today

    risk_rig.at((T0 // DAY_MS + 1) * DAY_MS)
    await reconcile_and_gate(rig, "periodic")
    # A loss limit's halt waits for an operator's resume, never a reconciliation's.
    assert eng.state is TradingState.HALTED


async def test_a_drawdown_during_a_reconciler_halt_is_not_forgotten_by_a_good_pass(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    risk_rig = Rig(daily_loss_limit_usd=D(50_000), daily_loss_limit_pct=D(25))
    eng = risk_rig.engine
    rig.risk = eng  # type: ignore[assignment]
    eng.observe_equity(T0, D(10_000))
    eng.halt("periodic reconciliation failed: venue down", RECONCILER)
    eng.observe_equity(T0 + 1, D(8_800))  # 12% below the peak while halted

    await reconcile_and_gate(rig, "periodic")
    eng.observe_equity(T0 + 2, D(8_800))
    assert eng.state is TradingState.HALTED  # max_drawdown_pct was passed


async def test_a_reconciliation_blip_does_not_restart_the_drawdown_peak(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    risk_rig = Rig(daily_loss_limit_usd=D(50_000), daily_loss_limit_pct=D(25))
    eng = risk_rig.engine
    rig.risk = eng  # type: ignore[assignment]
    eng.observe_equity(T0, D(10_000))  # the peak
    eng.observe_equity(T0 + 1, D(9_100))  # 9% below it; the limit is 10%
    eng.halt("periodic reconciliation failed: venue down", RECONCILER)
    await reconcile_and_gate(rig, "periodic")  # the venue answers again: the halt is lifted
    assert eng.state is TradingState.ACTIVE
    eng.observe_equity(T0 + 2, D(8_500))  # 15% below the peak
    assert eng.state is TradingState.HALTED


async def test_a_reconciliation_blip_under_a_daily_loss_reduce_comes_back_reducing(
    tmp_path: Path,
) -> None:
    """risk.on_loss_halt = "reduce": the daily-loss REDUCING lets exits through all day; a
    failed reconciliation halts over it and the next good one lifts back to it, the same day."""
    rig = make_rig(tmp_path)
    risk_rig = Rig(on_loss_halt="reduce", daily_loss_limit_usd=D(250))
    eng = risk_rig.engine
    rig.risk = eng  # type: ignore[assignment]
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(9_700))  # 300 lost today: REDUCING, exits still go
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:daily_loss"
    eng.halt("periodic reconciliation failed: venue down", RECONCILER)

    same_day = await reconcile_and_gate(rig, "periodic")
    assert same_day.ok
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:daily_loss"
    with pytest.raises(ResumeRefused):  # still no operator resume before the next UTC day
        eng.resume("ops", "too soon")


async def test_a_daily_loss_reduce_during_a_reconciler_halt_is_lifted_to_reducing(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    risk_rig = Rig(on_loss_halt="reduce", daily_loss_limit_usd=D(250))
    eng = risk_rig.engine
    rig.risk = eng  # type: ignore[assignment]
    eng.observe_equity(T0, D(10_000))
    eng.halt("periodic reconciliation failed: venue down", RECONCILER)
    eng.observe_equity(T0 + 1, D(9_700))  # the daily loss trips while halted

    await reconcile_and_gate(rig, "periodic")
    assert eng.state is TradingState.REDUCING and eng.state_by == "breaker:daily_loss"
