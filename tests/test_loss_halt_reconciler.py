"""A loss limit tripping while the reconciler's halt holds (a failed reconciliation): what it
records and says. A flatten waits for a reconciliation that succeeds (no order from a ledger
not checked); a reduce says REDUCING, the state the reconciler's lift leaves; a refused resume
names what the daily loss limit did; a bot's view of a flatten holds no account-wide count."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from test_risk_support import T0, D, Rig
from tradeguard.api.bot_views import _loss_halt
from tradeguard.model import TradingState
from tradeguard.risk import ResumeRefused
from tradeguard.risk.kill import KillSwitch
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.risk.report import loss_halt_view

WIDE = {"daily_loss_limit_usd": D(50_000), "daily_loss_limit_pct": D(25)}  # drawdown alone


def test_a_flatten_under_the_reconcilers_halt_waits_for_reconciliation_and_says_so() -> None:
    rig = Rig(on_loss_halt="flatten", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.halt("periodic reconciliation failed: venue down", RECONCILER_BY)
    eng.observe_equity(T0 + 1, D(8_900))  # 11% below the peak
    assert eng.state is TradingState.HALTED and eng.state_by == "breaker:drawdown"
    assert eng.flatten_asked is None  # nothing is sent from a book not reconciled
    kill = eng.last_kill
    assert kill is not None and kill["flatten"] is True and not kill.get("finished_ts")
    assert "reconciliation" in kill["unfinished"], kill
    view = loss_halt_view(eng.last_loss_halt, eng.last_kill, eng.state_by)
    assert view is not None and "waits for a reconciliation" in view["did"], view
    restarted = rig.restart()  # stored at once, as a kill is
    assert restarted.last_kill == kill


def test_a_flatten_without_the_reconcilers_halt_is_asked_for_at_once() -> None:
    rig = Rig(on_loss_halt="flatten", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))
    assert eng.flatten_asked is not None
    assert eng.last_kill is not None and "unfinished" not in eng.last_kill


def test_a_reduce_under_the_reconcilers_halt_records_reducing() -> None:
    rig = Rig(on_loss_halt="reduce", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.halt("periodic reconciliation failed: venue down", RECONCILER_BY)
    eng.observe_equity(T0 + 1, D(8_900))
    assert eng.state is TradingState.HALTED and eng.state_by == RECONCILER_BY
    assert eng.last_loss_halt is not None and eng.last_loss_halt["state"] == "REDUCING"
    view = loss_halt_view(eng.last_loss_halt, eng.last_kill, eng.state_by)
    assert view is not None and "once reconciliation succeeds" in view["did"], view
    eng.lift_own_halt(RECONCILER_BY, "reconciliation ok")
    assert eng.state.value == eng.last_loss_halt["state"]


@pytest.mark.parametrize(("mode", "said"), [("reduce", "put trading in REDUCING"),
                                            ("halt", "halted trading")])  # fmt: skip
def test_a_refused_resume_says_what_the_daily_loss_limit_did(mode, said) -> None:
    rig = Rig(on_loss_halt=mode, daily_loss_limit_usd=D(250))
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(9_700))  # 300 lost today
    with pytest.raises(ResumeRefused) as refused:
        eng.resume("ops", "too soon")
    assert said in str(refused.value), refused.value
    if mode == "reduce":
        assert "halted" not in str(refused.value), refused.value


def test_a_bots_view_of_a_flatten_holds_no_account_wide_count() -> None:
    rig = Rig(on_loss_halt="flatten", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))
    assert eng.last_kill is not None
    # the kill switch's report of the flatten: three positions of the account, one failure
    eng.record_kill({**eng.last_kill, "finished_ts": T0 + 2, "closed_positions": ["a", "b", "c"],
                     "failed": [{"id": "x", "reason": "y"}]})  # fmt: skip
    account = eng.snapshot()["loss_halt"]
    assert "3 position(s) closed" in account["did"], account
    # what GET /api/v1/safety/status shows a bot
    bot = _loss_halt(SimpleNamespace(risk=eng, clock=rig.clock))
    assert bot is not None and bot["did"].startswith("HALTED after flattening"), bot
    assert not any(ch.isdigit() for ch in bot["did"]), bot


def test_a_flatten_a_failed_reconciliation_came_before_waits_and_says_so() -> None:
    rig = Rig(on_loss_halt="flatten", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))  # asked for while the book was reconciled
    switch = KillSwitch(eng, rig.clock)
    # a reconciliation failed before the flatten was taken: nothing from that book
    assert switch.take_loss_flatten(reconciled=False) is None
    assert eng.flatten_asked is None
    kill = eng.last_kill
    assert kill is not None and not kill.get("finished_ts"), kill
    assert "reconciliation" in kill["unfinished"], kill
    view = loss_halt_view(eng.last_loss_halt, eng.last_kill, eng.state_by)
    assert view is not None and "waits for a reconciliation" in view["did"], view


def test_a_flatten_run_already_is_not_taken_again_by_the_poll() -> None:
    rig = Rig(on_loss_halt="flatten", **WIDE)
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(8_900))
    assert eng.last_kill is not None
    # a good reconciliation ran the stored flatten (node.kill_restart) before any poll
    eng.record_kill({**eng.last_kill, "finished_ts": T0 + 2})
    switch = KillSwitch(eng, rig.clock)
    assert switch.poll() is None  # was: a second kill, its cancels and flatten run again
    assert eng.flatten_asked is None
