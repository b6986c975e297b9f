"""Circuit breakers: losing streak, drawdown from the peak, daily loss, venue errors, stale data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from test_risk_support import DAY_MS, T0, D, Rig, buy, sell
from tradeguard.marketdata.state import MarketState
from tradeguard.model import TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.market import Quote
from tradeguard.risk import ResumeRefused


def lose(rig: Rig, ts: int, strategy: str = "s1") -> None:
    f, closed = rig.book.fill(buy("0.5", strategy_id=strategy), D(100), ts)
    rig.engine.observe_fill(f, closed, strategy)
    f, closed = rig.book.fill(sell("0.5", strategy_id=strategy), D(99), ts + 1)
    rig.engine.observe_fill(f, closed, strategy)


def win(rig: Rig, ts: int) -> None:
    f, closed = rig.book.fill(buy("0.5"), D(100), ts)
    rig.engine.observe_fill(f, closed, "s1")
    f, closed = rig.book.fill(sell("0.5"), D(101), ts + 1)
    rig.engine.observe_fill(f, closed, "s1")


def test_three_consecutive_losses_stop_new_entries() -> None:
    rig = Rig(cooldown_after_loss_s=0)
    lose(rig, T0)
    lose(rig, T0 + 10)
    assert rig.engine.state is TradingState.ACTIVE
    lose(rig, T0 + 20)
    assert rig.engine.state is TradingState.REDUCING
    assert rig.check(buy("0.5")).code == "TRADING_REDUCING"
    rig.book.hold("BTC/USDT", D(1), D(100))
    assert rig.check(sell("1")).approved  # exits still pass
    assert rig.kinds(EventKind.BREAKER_TRIPPED)[0].data["breaker"] == "consecutive_losses"


def test_a_win_resets_the_losing_streak() -> None:
    rig = Rig(cooldown_after_loss_s=0)
    lose(rig, T0)
    lose(rig, T0 + 10)
    win(rig, T0 + 20)
    lose(rig, T0 + 30)
    lose(rig, T0 + 40)
    assert rig.engine.state is TradingState.ACTIVE
    assert rig.engine.consecutive_losses == 2


def test_drawdown_is_measured_from_the_equity_peak_not_the_start() -> None:
    rig = Rig()
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D(12_000))  # the peak
    eng.observe_equity(T0 + 2, D(10_801))  # 9.99% below the peak, still above the start
    assert eng.state is TradingState.ACTIVE
    eng.observe_equity(T0 + 3, D(10_800))  # exactly 10% below the peak
    assert eng.state is TradingState.HALTED
    assert eng.state_by == "breaker:drawdown"
    assert rig.check(buy("0.5")).code == "TRADING_HALTED"


def test_drawdown_trips_at_a_new_low_after_a_partial_recovery() -> None:
    rig = Rig(daily_loss_limit_usd=D(50_000), daily_loss_limit_pct=D(25))  # no daily-loss trip
    eng = rig.engine
    eng.observe_equity(T0, D(12_000))  # the peak
    eng.observe_equity(T0 + 1, D(10_900))  # 9.17% below it
    eng.observe_equity(T0 + 2, D(11_500))  # back up, still under the peak
    eng.observe_equity(T0 + 3, D(10_900))  # the same low again
    assert eng.state is TradingState.ACTIVE
    eng.observe_equity(T0 + 4, D(10_800))  # 10% below the peak: lower than any low before
    assert eng.state is TradingState.HALTED
    assert rig.kinds(EventKind.BREAKER_TRIPPED)[0].data["breaker"] == "drawdown"


def test_daily_loss_halts_until_the_next_utc_day_and_a_manual_resume() -> None:
    rig = Rig()
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D("9750.01"))
    assert eng.state is TradingState.ACTIVE
    eng.observe_equity(T0 + 2, D(9750))
    assert eng.state is TradingState.HALTED
    with pytest.raises(ResumeRefused, match=r"resume is possible from 2023-11-15 00:00 UTC"):
        eng.resume("alice", "looked at it")
    next_day = (T0 // DAY_MS + 1) * DAY_MS
    rig.at(next_day)
    eng.observe_equity(next_day, D(9750))
    assert eng.state is TradingState.HALTED  # a new day alone does not resume
    eng.resume("alice", "checked the losses")
    assert eng.state is TradingState.ACTIVE
    assert eng.last_resume is not None and eng.last_resume["by"] == "alice"
    assert rig.kinds(EventKind.RESUME)[0].data["reason"] == "checked the losses"


def test_warning_at_eighty_percent_of_the_daily_loss_once_per_day() -> None:
    rig = Rig()
    eng = rig.engine
    eng.observe_equity(T0, D(10_000))
    eng.observe_equity(T0 + 1, D("9800.01"))  # 199.99 < 80% of 250
    assert rig.kinds(EventKind.RISK_WARNING) == []
    eng.observe_equity(T0 + 2, D(9800))
    eng.observe_equity(T0 + 3, D(9790))
    warnings = rig.kinds(EventKind.RISK_WARNING)
    assert len(warnings) == 1 and warnings[0].data["used_pct"] == "80.0"
    assert eng.state is TradingState.ACTIVE


def test_venue_breaker_opens_after_five_errors_in_the_window() -> None:
    rig = Rig(max_trades_per_day=100)
    eng = rig.engine
    for i in range(4):
        eng.observe_venue_error("paper", T0 + i, "timeout")
    assert rig.check(buy("0.5")).approved
    eng.observe_venue_error("paper", T0 + 4, "timeout")
    d = rig.check(buy("0.5"))
    assert d.code == "VENUE_BREAKER_OPEN" and "timeout" in d.reason


def test_venue_errors_spread_beyond_the_window_do_not_open_it() -> None:
    rig = Rig()
    for i in range(10):
        rig.engine.observe_venue_error("paper", T0 + i * 15_000, "timeout")  # 4 per 60 s
    assert rig.check(buy("0.5")).approved


def test_venue_breaker_half_open_probe_then_close() -> None:
    rig = Rig(max_trades_per_day=100)
    eng = rig.engine
    for _ in range(5):
        eng.observe_venue_error("paper", T0, "503")
    rig.at(T0 + 299_999)
    assert rig.check(buy("0.5")).code == "VENUE_BREAKER_OPEN"
    rig.at(T0 + 300_000)
    assert rig.check(buy("0.5")).approved  # the one probe
    assert rig.check(buy("0.5")).code == "VENUE_BREAKER_OPEN"  # no second while it is out
    eng.observe_venue_ok("paper", T0 + 300_001)
    rig.at(T0 + 301_000)
    assert rig.check(buy("0.5")).approved
    assert rig.kinds(EventKind.BREAKER_RESET)[-1].data["breaker"] == "venue_errors"


def test_a_failed_probe_reopens_the_venue_breaker() -> None:
    rig = Rig()
    eng = rig.engine
    for _ in range(5):
        eng.observe_venue_error("paper", T0, "503")
    rig.at(T0 + 300_000)
    assert rig.check(buy("0.5")).approved
    eng.observe_venue_error("paper", T0 + 300_010, "503 again")
    rig.at(T0 + 500_000)
    assert rig.check(buy("0.5")).code == "VENUE_BREAKER_OPEN"
    rig.at(T0 + 600_010)
    assert rig.check(buy("0.5")).approved


def test_venue_breaker_blocks_only_its_venue() -> None:
    rig = Rig()
    for _ in range(5):
        rig.engine.observe_venue_error("other", T0, "503")
    assert rig.check(buy("0.5")).approved


def test_stale_market_data_blocks_that_symbol_only() -> None:
    rig = Rig()
    rig.market.set("ETH/USDT", D(100), T0 + 60_001)
    rig.clock.advance_to(T0 + 60_000)
    assert rig.check(buy("0.5")).approved  # exactly 60 s old
    rig.clock.advance_to(T0 + 60_001)
    d = rig.check(buy("0.5"))
    assert d.code == "STALE_MARKET_DATA" and d.value == D("60.001")
    assert rig.check(buy("0.5", symbol="ETH/USDT")).approved
    assert rig.engine.snapshot()["breakers"]["stale_symbols"] == ["BTC/USDT"]
    rig.market.updated["BTC/USDT"] = T0 + 60_001
    rig.clock.advance_to(T0 + 61_000)
    assert rig.check(buy("0.5")).approved
    assert rig.engine.snapshot()["breakers"]["stale_symbols"] == []


def test_halted_blocks_everything_except_kill_switch_flatten_orders() -> None:
    rig = Rig()
    rig.book.hold("BTC/USDT", D(2), D(100))
    rig.engine.halt("operator", "alice")
    assert rig.check(sell("1")).code == "TRADING_HALTED"
    assert rig.check(sell("1", reduce_only=True)).code == "TRADING_HALTED"
    assert rig.check(sell("1", tag="kill-flatten")).code == "TRADING_HALTED"  # not reduce-only
    d = rig.check(sell("2", None, reduce_only=True, tag="kill-flatten"))
    assert d.approved and d.code == "KILL_FLATTEN" and d.price_bound == D("99.00")
    grow = rig.check(sell("2.0001", None, reduce_only=True, tag="kill-flatten"))
    assert grow.code == "REDUCE_ONLY_WOULD_GROW"
    assert rig.check(buy("1", None, reduce_only=True, tag="kill-flatten")).code == (
        "REDUCE_ONLY_WOULD_GROW"
    )


def test_reducing_never_softens_a_halt() -> None:
    rig = Rig()
    rig.engine.halt("x", "y")
    rig.engine.set_reducing("streak", "breaker")
    assert rig.engine.state is TradingState.HALTED


def test_snapshot_reports_each_limit_used_and_its_limit() -> None:
    rig = Rig()
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_equity(T0 + 1, D("9957.90"))
    snap = rig.engine.snapshot()
    assert snap["state"] == "ACTIVE"
    assert snap["limits"]["daily_loss"] == {
        "used": "42.10", "limit": "250.00", "unit": "USD", "used_pct": "16.8",
    }  # fmt: skip
    assert snap["breakers"]["drawdown"]["used_pct"] == "4.2"
    assert snap["unset_limits"] == []


def test_snapshot_counts_trades_as_whole_numbers() -> None:
    rig = Rig(max_trades_per_day=10)
    assert rig.check(buy("0.5")).approved
    trades = rig.engine.snapshot()["limits"]["trades_today"]
    assert trades == {
        "used": str(rig.engine.trades_today), "limit": "10", "unit": "trades",
        "used_pct": str(rig.engine.trades_today * 10) + ".0",
    }  # fmt: skip


def test_stale_data_on_one_venue_trips_once_and_never_flaps_with_anothers_fresh_data() -> None:
    rig = Rig()
    market = MarketState()
    for venue in ("north", "south"):
        market.instruments[(venue, "BTC/USDT")] = rig.market.instruments[("paper", "BTC/USDT")]
    market.on_quote(Quote("BTC/USDT", T0, D(99), D(1), D(101), D(1), venue="north"))

    def order(venue: str):  # type: ignore[no-untyped-def]
        return rig.engine.check(replace(buy("0.5"), venue=venue), rig.book, market)

    for _ in range(3):  # south has no data of its own; north's is fresh
        assert order("south").code == "STALE_MARKET_DATA"
        assert order("north").approved
    # one breaker for south's data, tripped once; north's orders say nothing of it
    assert len(rig.kinds(EventKind.BREAKER_TRIPPED)) == 1
    assert rig.kinds(EventKind.BREAKER_RESET) == []
    assert rig.engine.snapshot()["breakers"]["stale_symbols"] == ["BTC/USDT"]


@pytest.mark.parametrize("pause_s", [14_400, 0])
def test_a_losing_streak_denial_says_when_entries_come_back(pause_s: int) -> None:
    rig = Rig(cooldown_after_loss_s=0, consecutive_loss_pause_s=pause_s)
    for n in range(3):
        lose(rig, T0 + 10 * n)
    reason = rig.check(buy("0.5")).reason
    if pause_s:
        # the pause ends by itself: a manual resume is not the only way back
        assert "new entries resume after 14400 s" in reason, reason
        assert "pass until the pause ends or `tradeguard resume`" in reason, reason
    else:
        assert "resume manually" in reason, reason
        assert "pass until `tradeguard resume`" in reason, reason
