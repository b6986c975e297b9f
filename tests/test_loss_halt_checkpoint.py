"""A loss limit tripping while the checkpoint's halt holds (the database refused the node's
checkpoint): that halt lifts itself once a checkpoint is written, so a loss limit tripping
under it takes it over, as under the reconciler's, and only an operator lifts it; a flatten
asked for runs (the book was reconciled: only its store failed)."""

from __future__ import annotations

from test_risk_support import T0, D, Rig
from tradeguard.model import TradingState
from tradeguard.risk.state import CHECKPOINT_BY, DAILY_LOSS_BY, DRAWDOWN_BY

DAY_MS = 86_400_000
REFUSED = "the checkpoint's write failed (OperationalError: database is locked)"


def test_a_daily_loss_under_the_checkpoints_halt_is_not_lifted_by_the_next_checkpoint() -> None:
    rig = Rig(max_drawdown_pct=D(50))  # the daily loss limit alone
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.halt(REFUSED, CHECKPOINT_BY)

    eng.observe_equity(T0 + 1, D(9_000))  # the daily loss limit trips while halted

    # before: the halt stayed the checkpoint's, lifted by the first checkpoint of the next day
    assert eng.state is TradingState.HALTED and eng.state_by == DAILY_LOSS_BY
    rig.at((T0 // DAY_MS + 1) * DAY_MS)
    eng.lift_own_halt(CHECKPOINT_BY, "the checkpoint was written")
    assert eng.state is TradingState.HALTED and eng.state_by == DAILY_LOSS_BY


def test_a_drawdown_flatten_under_the_checkpoints_halt_is_asked_for_at_once() -> None:
    rig = Rig(on_loss_halt="flatten", daily_loss_limit_usd=D(50_000), daily_loss_limit_pct=D(25))
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.halt(REFUSED, CHECKPOINT_BY)

    eng.observe_equity(T0 + 1, D(8_900))  # 11% below the peak

    # before: nothing tripped; the checkpoint's lift let trading on at 11% down
    assert eng.state is TradingState.HALTED and eng.state_by == DRAWDOWN_BY
    assert eng.flatten_asked is not None
    assert eng.last_kill is not None and "unfinished" not in eng.last_kill


def test_a_losing_streak_under_the_checkpoints_halt_makes_its_lift_reducing() -> None:
    rig = Rig(max_consecutive_losses=2)
    eng = rig.engine
    eng.halt(REFUSED, CHECKPOINT_BY)
    for i in range(3):
        eng.observe_cycle("s", ("BTC/USDT",), D("-5"), T0 + i)

    eng.lift_own_halt(CHECKPOINT_BY, "the checkpoint was written")

    assert eng.state is TradingState.REDUCING  # before: ACTIVE, the streak over its limit


def test_a_resume_under_which_the_checkpoints_halt_is_owed_says_trading_stays_halted() -> None:
    rig = Rig()
    eng = rig.engine
    eng.halt(REFUSED, CHECKPOINT_BY)
    eng.halt("operator kill", "kill_switch")  # the checkpoint's halt is owed beneath it

    eng.resume("ops", "venue checked")

    assert eng.state is TradingState.HALTED and eng.state_by == CHECKPOINT_BY
    # before: the event and the record said the resume went through (to ACTIVE)
    (event,) = rig.kinds("resume")
    assert event.data["to"] == TradingState.HALTED and event.severity == "critical"
    assert event.data["still_halted_by"] == CHECKPOINT_BY
    assert event.data["still_halted_reason"] == REFUSED
    assert eng.last_resume is not None and eng.last_resume["to"] == TradingState.HALTED
    assert eng.last_resume["still_halted_by"] == CHECKPOINT_BY
