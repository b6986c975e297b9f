"""A halt that a daily loss limit also tripped says when `tradeguard resume` may lift it.

One mark that moves the account far trips the drawdown and the daily loss limit at once: the
state named the drawdown and `loss_halt.did` said "until `tradeguard resume`", while the resume
is refused until the next UTC day (the daily loss limit's own rule). The user read that resuming
was one command away, typed it and was refused.
"""

from __future__ import annotations

from decimal import Decimal

from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import TradingState
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.report import loss_halt_view, snapshot
from tradeguard.risk.state import ResumeRefused
from tradeguard.risk.store import MemoryStateStore

T0 = 1_796_670_000_000  # 2026-12-07 19:40 UTC


def _both_tripped() -> RiskEngine:
    clock = SimulatedClock(T0)
    config = RiskConfig(daily_loss_limit_usd=Decimal(30_000), max_drawdown_pct=Decimal(10))
    engine = RiskEngine(config, clock, MemoryStateStore(), lambda event: None)
    engine.observe_equity(T0, Decimal(355_000))
    clock.advance_to(T0 + 1_000)
    engine.observe_equity(T0 + 1_000, Decimal(270_000))  # -24 %, -85,000 USD: both limits
    return engine


def test_a_drawdown_halt_the_daily_loss_limit_also_tripped_names_the_day_resume_works():
    engine = _both_tripped()
    assert engine.state is TradingState.HALTED and engine.state_by == "breaker:drawdown"
    did = snapshot(engine, [], T0 + 2_000)["loss_halt"]["did"]
    assert "until `tradeguard resume`" in did, did
    assert "daily loss limit refuses before 2026-12-08 00:00 UTC" in did, did
    try:
        engine.resume("ops", "checked")
    except ResumeRefused as exc:
        assert "2026-12-08 00:00 UTC" in str(exc)
    else:
        raise AssertionError("the daily loss limit lets no resume through that day")


def test_the_next_day_the_halt_says_no_more_than_resume():
    engine = _both_tripped()
    tomorrow = T0 + 86_400_000
    did = snapshot(engine, [], tomorrow)["loss_halt"]["did"]
    assert did == "HALTED: nothing is sent, exits included, until `tradeguard resume`", did
    plain = loss_halt_view(engine.last_loss_halt, engine.last_kill, engine.state_by)
    assert plain is not None and "refuses before" not in plain["did"]
