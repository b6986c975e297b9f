"""Trading state and counters survive a restart; the kill switch halts and is remembered."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from test_risk_support import DAY_MS, T0, D, Rig, buy, sell
from tradeguard.model import Order, OrderStatus, OrderType, Side, TradingState
from tradeguard.model.events import EventKind
from tradeguard.risk import (
    JsonFileStateStore,
    KillSwitch,
    MemoryStateStore,
    ResumeRefused,
)


def test_halted_survives_a_restart() -> None:
    rig = Rig()
    rig.engine.halt("operator pressed stop", "alice")
    eng = rig.restart()
    assert eng.state is TradingState.HALTED
    assert (eng.state_reason, eng.state_by) == ("operator pressed stop", "alice")
    assert rig.check(buy("0.5")).code == "TRADING_HALTED"


def test_daily_loss_halt_cannot_be_resumed_the_same_utc_day_after_a_restart() -> None:
    rig = Rig()
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D(9700))
    eng = rig.restart()
    assert eng.state is TradingState.HALTED
    with pytest.raises(ResumeRefused):
        eng.resume("bob", "restart looked fine")
    rig.clock.advance_to((T0 // DAY_MS + 1) * DAY_MS)
    eng.resume("bob", "new day, losses reviewed")
    assert rig.restart().state is TradingState.ACTIVE


def test_resume_needs_who_and_why() -> None:
    rig = Rig()
    rig.engine.halt("x", "y")
    with pytest.raises(ValueError, match="who resumes"):
        rig.engine.resume("", "")
    assert rig.engine.state is TradingState.HALTED


def test_breakers_and_day_counters_survive_within_the_day() -> None:
    rig = Rig(max_trades_per_day=2, cooldown_after_trade_s=600)
    for _ in range(5):
        rig.engine.observe_venue_error("other", T0, "503")
    assert rig.check(buy("0.5")).approved
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5", strategy_id="s2")).approved
    f, closed = rig.book.fill(buy("0.5", strategy_id="s3"), D(100), T0 + 1000)
    rig.engine.observe_fill(f, closed, "s3")  # persists counters and the cooldown
    eng = rig.restart()
    assert eng.trades_today == 2
    assert eng.venue_breakers["other"].state == "open"
    rig.at(T0 + 2000)
    assert rig.check(buy("0.5", strategy_id="s4")).code == "MAX_TRADES_PER_DAY"
    assert ("s3", "BTC/USDT") in eng.cooldowns


def test_peak_equity_survives_a_restart_so_drawdown_still_counts_from_it() -> None:
    rig = Rig()
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D(12_000))
    rig.engine.flush()
    eng = rig.restart()
    eng.observe_equity(T0 + 2, D(10_800))
    assert eng.state is TradingState.HALTED


def test_resume_measures_the_next_drawdown_from_the_resume_equity() -> None:
    rig = Rig(daily_loss_limit_usd=D(5000), daily_loss_limit_pct=D(25))
    rig.engine.observe_equity(T0, D(12_000))
    rig.engine.observe_equity(T0 + 1, D(10_700))
    assert rig.engine.state is TradingState.HALTED
    rig.engine.resume("alice", "reviewed")
    rig.engine.observe_equity(T0 + 2, D(10_600))
    assert rig.engine.state is TradingState.ACTIVE


def test_json_file_store_round_trips_the_state(tmp_path: Path) -> None:
    path = tmp_path / "risk" / "state.json"
    store = JsonFileStateStore(path)
    assert store.load() is None
    rig = Rig(store=None)
    rig.engine._store = store  # same engine, file-backed from here
    rig.engine.observe_equity(T0, D("10000.5"))
    rig.engine.halt("test", "carol")
    data = json.loads(path.read_text())
    assert data["state"] == "HALTED" and data["peak_equity"] == "10000.5"
    from tradeguard.risk import RiskEngine

    again = RiskEngine(rig.config, rig.clock, JsonFileStateStore(path), rig.events.append)
    assert again.state is TradingState.HALTED and again.peak_equity == Decimal("10000.5")


def test_kill_switch_trigger_halts_and_is_persisted() -> None:
    rig = Rig()
    kill = KillSwitch(rig.engine, rig.clock)
    request = kill.trigger("runaway strategy", "cli:alice", flatten=True)
    assert rig.engine.state is TradingState.HALTED
    assert request.flatten and request.by == "cli:alice"
    eng = rig.restart()
    assert eng.state is TradingState.HALTED
    assert eng.last_kill is not None and eng.last_kill["reason"] == "runaway strategy"
    assert rig.kinds(EventKind.KILL)[0].severity == "critical"


def test_kill_switch_sentinel_file_triggers_once(tmp_path: Path) -> None:
    rig = Rig()
    sentinel = tmp_path / "tradeguard.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    assert kill.poll() is None
    sentinel.write_text("flatten please\n")
    request = kill.poll()
    assert request is not None and request.flatten and request.by == "sentinel"
    assert rig.engine.state is TradingState.HALTED
    assert kill.poll() is None  # the same file does not trigger again
    assert not sentinel.exists()  # taken at once: a new write is a new kill
    assert kill.poll() is None


def test_kill_with_many_open_orders_denies_all_new_and_reports_each_cancel() -> None:
    rig = Rig()
    orders = [
        Order(f"o{i}", "s1", "paper", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D(99),
              status=OrderStatus.ACCEPTED)
        for i in range(200)
    ]  # fmt: skip
    rig.book.orders = orders
    rig.book.hold("BTC/USDT", D(1), D(100))
    kill = KillSwitch(rig.engine, rig.clock)
    request = kill.trigger("test", "cli", flatten=True)
    report = kill.report(request)
    for o in rig.book.open_orders():  # what the executor does: cancel each, record the outcome
        o.transition(OrderStatus.CANCELLED)
        report.cancelled.append(o.client_order_id)
    flatten = sell("1", None, reduce_only=True, tag="kill-flatten")
    assert rig.check(flatten).approved
    report.closed_positions.append("paper:BTC/USDT")
    report.failed.append(("other:ETH/USDT", "venue timeout"))
    kill.finish(report)
    assert rig.book.open_orders() == []
    assert len(report.cancelled) == 200 and not report.ok
    assert rig.check(buy("0.5")).code == "TRADING_HALTED"
    eng = rig.restart()
    assert eng.state is TradingState.HALTED
    assert eng.last_kill is not None and len(eng.last_kill["cancelled"]) == 200
    assert eng.last_kill["failed"] == [{"id": "other:ETH/USDT", "reason": "venue timeout"}]


def test_memory_store_is_isolated_from_later_mutation() -> None:
    store = MemoryStateStore()
    state = {"state": "HALTED", "cooldowns": []}
    store.save(state)
    state["state"] = "ACTIVE"
    loaded = store.load()
    assert loaded is not None and loaded["state"] == "HALTED"


def test_flatten_of_a_short_buys_back_under_the_cap() -> None:
    rig = Rig()
    rig.book.hold("BTC/USDT", D(-1), D(100))
    rig.engine.halt("x", "y")
    d = rig.check(buy("1", None, reduce_only=True, tag="kill-flatten"))
    assert d.approved and d.price_bound == D("101.00")
    assert rig.check(buy("1", "101.01", reduce_only=True, tag="kill-flatten")).code == "PRICE_BAND"


def test_approvals_are_persisted_at_the_next_equity_tick() -> None:
    rig = Rig(max_trades_per_day=1)
    rig.engine.observe_equity(T0, D(10_000))
    assert rig.check(buy("0.5")).approved
    rig.engine.observe_equity(T0 + 1, D(10_000))
    eng = rig.restart()
    rig.at(T0 + 1000)
    assert eng.trades_today == 1
    assert rig.check(buy("0.5")).code == "MAX_TRADES_PER_DAY"


def test_a_rising_peak_is_not_written_on_every_tick() -> None:
    rig = Rig()
    rig.engine.observe_equity(T0, D(10_000))
    before = rig.store.saves
    for i in range(1, 100):
        rig.engine.observe_equity(T0 + i * 1000, D(10_000) + i)
    assert rig.store.saves - before <= 1
    rig.engine.observe_equity(T0 + 400_000, D(20_000))
    loaded = rig.store.load()
    assert loaded is not None and loaded["peak_equity"] == "20000"


def test_a_losing_streak_under_the_reconcilers_halt_trips_its_breaker_once() -> None:
    # As when ACTIVE (the first trip makes it REDUCING): one streak, one critical event and alert.
    from tradeguard.risk.observers import RECONCILER_BY

    rig = Rig(max_consecutive_losses=2)
    rig.engine.halt("periodic reconciliation failed", RECONCILER_BY)
    for i in range(4):
        rig.engine.observe_cycle("s", ("BTC/USDT",), D("-5"), T0 + i)
    tripped = [
        e for e in rig.kinds(EventKind.BREAKER_TRIPPED) if e.data["breaker"] == "consecutive_losses"
    ]
    assert [e.data["value"] for e in tripped] == [2]
    assert rig.engine.state is TradingState.HALTED
    rig.engine.lift_own_halt(RECONCILER_BY, "periodic reconciliation completed")
    assert rig.engine.state is TradingState.REDUCING


def test_a_settled_loss_counts_in_the_streak_and_cools_its_markets_once_across_a_restart():
    rig = Rig(max_consecutive_losses=5, cooldown_after_loss_s=600)
    legs = ("M:YES/PUSD", "M:NO/USD")
    rig.engine.observe_settlement("s", "7:pair:d0", legs, D("-9.40"), T0)
    rig.engine.observe_settlement("s", "7:pair:d0", legs, D("-9.40"), T0 + 1)  # seen: ignored
    assert rig.engine.consecutive_losses == 1
    assert {sym for (_s, sym) in rig.engine.cooldowns} == set(legs)
    eng = rig.restart()
    eng.observe_settlement("s", "7:pair:d0", legs, D("-9.40"), T0 + 2)
    assert eng.consecutive_losses == 1
    eng.observe_settlement("s", "8:pair:d0", legs, D("0.60"), T0 + 3)  # a settled gain
    assert eng.consecutive_losses == 0


def test_a_resume_restarts_the_drawdown_peak_only_when_the_old_one_would_halt_again() -> None:
    # Walked: a ledger-audit halt resumed with `tradeguard resume` (and a resume typed on an
    # ACTIVE node) moved the drawdown breaker's peak to the equity of that moment: the
    # dashboard's "Current drawdown" read 0.05 % while the run's drawdown was 1.34 %, and the
    # breaker allowed 10 % more from there. The peak restarts only when the old one would halt
    # again at once (a drawdown halt resumed).
    rig = Rig(max_drawdown_pct=D(10), daily_loss_limit_usd=D(5000), daily_loss_limit_pct=D(25),
              weekly_loss_limit_usd=D(5000), weekly_loss_limit_pct=D(40))  # fmt: skip
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D(9_700))  # 3 % down: no halt
    rig.engine.halt("ledger audit failed", "node")
    rig.engine.resume("bob", "ledger fixed")
    assert rig.engine.equity_tracker.peak == D(10_000)
    rig.engine.resume("bob", "habit")  # on an ACTIVE node
    assert rig.engine.equity_tracker.peak == D(10_000)
    rig.engine.observe_equity(T0 + 2, D(8_900))  # 11 % below the peak: the breaker halts
    assert rig.engine.state is TradingState.HALTED
    rig.engine.resume("bob", "drawdown reviewed")
    assert rig.engine.equity_tracker.peak == D(8_900)
    assert rig.engine.state is TradingState.ACTIVE


def test_resuming_a_drawdown_halt_restarts_the_peak_after_the_equity_recovered_a_little() -> None:
    # Halted 11 % below the peak; while halted the equity comes back to 9.5 % down, and the
    # operator resumes. The old peak stood (9.5 % < 10 %), so a dip of 0.6 % halted again: the
    # resume of a drawdown halt gave the breaker no fresh start.
    rig = Rig(max_drawdown_pct=D(10), daily_loss_limit_usd=D(5000), daily_loss_limit_pct=D(25),
              weekly_loss_limit_usd=D(5000), weekly_loss_limit_pct=D(40))  # fmt: skip
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D(8_900))
    assert rig.engine.state is TradingState.HALTED
    rig.engine.observe_equity(T0 + 2, D(9_050))
    rig.engine.resume("bob", "drawdown reviewed")
    assert rig.engine.equity_tracker.peak == D(9_050)
    rig.engine.observe_equity(T0 + 3, D(9_000))
    assert rig.engine.state is TradingState.ACTIVE, rig.engine.state_reason
